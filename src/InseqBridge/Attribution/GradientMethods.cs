using System.Globalization;
using InseqBridge.Errors;

namespace InseqBridge.Attribution;

/// <summary>
/// DeepLIFT with the rescale rule (Captum <c>DeepLift</c>, <c>multiply_by_inputs=True</c>) from the UNK-token
/// baseline: (input - baseline) times the DeepLIFT multipliers. Captum overrides the gradient only of the
/// non-linear <em>modules</em> it supports (ReLU, Tanh, Sigmoid, ...); transformer activations such as GELU and
/// SiLU and the functional softmax of attention keep their plain gradients, so on GPT-2, Llama, Qwen2, BART and
/// Marian DeepLIFT equals (input - baseline) x gradient at the input. The rescale rule applies to ReLU and tanh
/// feed-forward activations (T5, GPT-2 configured with <c>relu</c>).
/// </summary>
public sealed record DeepLift : AttributionMethod
{
    /// <inheritdoc />
    public override string Id => "deeplift";
}

/// <summary>
/// GradientSHAP (Captum <c>GradientShap</c>): for each of <see cref="Samples"/> samples per example, a baseline is
/// drawn at random from the batch's baselines, the input (plus Gaussian noise of <see cref="StandardDeviation"/>)
/// is moved a uniform random fraction towards it, and the gradient there times (input - baseline) is averaged.
/// Random draws follow the reference stack: NumPy's legacy generator for the baseline indices and the fractions,
/// torch's generator for the noise, both seeded once per attribution call with <see cref="Seed"/> (as Python's
/// <c>transformers.set_seed(seed)</c> before <c>model.attribute</c>).
/// </summary>
public sealed record GradientShap : AttributionMethod
{
    /// <inheritdoc />
    public override string Id => "gradient_shap";

    /// <summary><c>n_samples</c>: random samples per example (default 5).</summary>
    public int Samples { get; init; } = 5;

    /// <summary><c>stdevs</c>: standard deviation of the Gaussian noise added to the inputs (default 0).</summary>
    public double StandardDeviation { get; init; }

    /// <summary>Seed of the random draws (not an Inseq argument; null: the request's <c>Generation.Seed</c>, default 0).</summary>
    public long? Seed { get; init; }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments
    {
        get
        {
            var args = new Dictionary<string, object?>();
            if (Samples != 5)
            {
                args["n_samples"] = Samples;
            }

            if (StandardDeviation != 0)
            {
                args["stdevs"] = StandardDeviation;
            }

            return args;
        }
    }
}

/// <summary>
/// Layer integrated gradients on the input embedding layer (Captum <c>LayerIntegratedGradients</c> with Inseq's
/// default <c>target_layer = model.get_input_embeddings()</c>): baselines are the UNK-token ids, whose embedding
/// layer output is the start of the path. Attributions are w.r.t. the embedding layer's output (before Marian's
/// sqrt(d_model) scaling, which this layer does not include). No <c>attribute_target</c>.
/// </summary>
public sealed record LayerIntegratedGradients : AttributionMethod
{
    /// <inheritdoc />
    public override string Id => "layer_integrated_gradients";

    /// <summary><c>n_steps</c> (default 50).</summary>
    public int Steps { get; init; } = 50;

    /// <summary><c>method</c>: quadrature rule (default Gauss-Legendre).</summary>
    public IntegrationMethod Method { get; init; } = IntegrationMethod.GaussLegendre;

    /// <summary><c>internal_batch_size</c> (null: all interpolation points at once).</summary>
    public int? InternalBatchSize { get; init; }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments => IntegrationArguments.Of(Steps, Method, InternalBatchSize);
}

/// <summary>Layer gradient x activation on the input embedding layer (Captum <c>LayerGradientXActivation</c>).
/// No baselines, no <c>attribute_target</c>.</summary>
public sealed record LayerGradientXActivation : AttributionMethod
{
    /// <inheritdoc />
    public override string Id => "layer_gradient_x_activation";
}

/// <summary>Layer DeepLIFT on the input embedding layer (Captum <c>LayerDeepLift</c>) from the UNK-token baseline.
/// No <c>attribute_target</c>.</summary>
public sealed record LayerDeepLift : AttributionMethod
{
    /// <inheritdoc />
    public override string Id => "layer_deeplift";
}

/// <summary>
/// Sequential integrated gradients (Enguehard 2023, Inseq's implementation): each token is integrated separately
/// from its baseline embedding to its embedding while every other token keeps its input embedding.
/// With <c>attribute_target</c> on an encoder-decoder, Inseq requires source and target prefix of equal length; this
/// backend integrates position i of every attributed sequence that has one (identical when the lengths agree).
/// </summary>
public sealed record SequentialIntegratedGradients : AttributionMethod
{
    /// <inheritdoc />
    public override string Id => "sequential_integrated_gradients";

    /// <summary><c>n_steps</c> (default 50).</summary>
    public int Steps { get; init; } = 50;

    /// <summary><c>method</c>: quadrature rule (default Gauss-Legendre).</summary>
    public IntegrationMethod Method { get; init; } = IntegrationMethod.GaussLegendre;

    /// <summary><c>internal_batch_size</c> (null: all interpolation points at once).</summary>
    public int? InternalBatchSize { get; init; }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments => IntegrationArguments.Of(Steps, Method, InternalBatchSize);
}

/// <summary>Anchor selection of discretized integrated gradients.</summary>
public enum PathStrategy
{
    /// <summary><c>greedy</c>: the neighbour that needs the smallest change to become monotonic.</summary>
    Greedy,

    /// <summary><c>maxcount</c>: the neighbour with the most dimensions already monotonic.</summary>
    MaxCount,
}

/// <summary>
/// Discretized integrated gradients (Sanyal and Ren, EMNLP 2021), implemented from the paper: for every token a
/// path of <see cref="Steps"/> points from the baseline embedding to the token embedding through monotonized
/// vocabulary embeddings (anchors among the <see cref="Neighbors"/> nearest words of the current anchor, chosen by
/// <see cref="Strategy"/>; non-monotonic dimensions of the anchor are moved 1/<see cref="Steps"/> of the way from
/// the current point towards the baseline), and the attribution is the sum over path segments of the gradient at
/// each point times the segment. Differences from Inseq 0.6 (whose implementation is marked as not working and is
/// untested there): anchors are monotonized w.r.t. the current path point, so every path is monotonic in each
/// dimension; special tokens follow the straight line instead of a single jump; the neighbour graph is computed on
/// the fly (no scikit-learn cache); attributions are not multiplied by (input - baseline) again (Inseq's default).
/// </summary>
public sealed record DiscretizedIntegratedGradients : AttributionMethod
{
    /// <inheritdoc />
    public override string Id => "discretized_integrated_gradients";

    /// <summary><c>n_steps</c>: points on each path, baseline and input included (default 50).</summary>
    public int Steps { get; init; } = 50;

    /// <summary><c>method</c>: <c>greedy</c> (default) or <c>maxcount</c>.</summary>
    public PathStrategy Strategy { get; init; } = PathStrategy.Greedy;

    /// <summary><c>n_neighbors</c>: size of the nearest-neighbour lists anchors are searched in (default 50).</summary>
    public int Neighbors { get; init; } = 50;

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments
    {
        get
        {
            var args = new Dictionary<string, object?>();
            if (Steps != 50)
            {
                args["n_steps"] = Steps;
            }

            if (Strategy != PathStrategy.Greedy)
            {
                args["method"] = "maxcount";
            }

            if (Neighbors != 50)
            {
                args["n_neighbors"] = Neighbors;
            }

            return args;
        }
    }
}

/// <summary>Parsing of the gradient-family methods added besides saliency, input x gradient and IG.</summary>
internal static class GradientMethodFactory
{
    /// <summary>Ids handled here.</summary>
    public static IReadOnlyList<string> Ids { get; } =
    [
        "deeplift", "gradient_shap", "layer_integrated_gradients", "layer_gradient_x_activation", "layer_deeplift",
        "sequential_integrated_gradients", "discretized_integrated_gradients",
    ];

    /// <summary>Builds the method (arguments read from <paramref name="reader"/>).</summary>
    public static AttributionMethod Create(string id, ArgumentReader reader)
    {
        AttributionMethod method = id switch
        {
            "deeplift" => new DeepLift(),
            "gradient_shap" => new GradientShap
            {
                Samples = Positive(id, "n_samples", reader.Int("n_samples", 5)),
                StandardDeviation = NonNegative(id, "stdevs", reader.Double("stdevs", 0.0)),
                Seed = reader.String("seed") is string s
                    ? long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long seed)
                        ? seed
                        : throw new InvalidRequestException($"{id}: argument 'seed' must be an integer (got '{s}').")
                    : null,
            },
            "layer_integrated_gradients" => new LayerIntegratedGradients
            {
                Steps = Positive(id, "n_steps", reader.Int("n_steps", 50)),
                Method = reader.Enum("method", IntegrationMethod.GaussLegendre),
                InternalBatchSize = PositiveOrNull(id, "internal_batch_size", reader.IntOrNull("internal_batch_size")),
            },
            "layer_gradient_x_activation" => new LayerGradientXActivation(),
            "layer_deeplift" => new LayerDeepLift(),
            "sequential_integrated_gradients" => new SequentialIntegratedGradients
            {
                Steps = Positive(id, "n_steps", reader.Int("n_steps", 50)),
                Method = reader.Enum("method", IntegrationMethod.GaussLegendre),
                InternalBatchSize = PositiveOrNull(id, "internal_batch_size", reader.IntOrNull("internal_batch_size")),
            },
            "discretized_integrated_gradients" => new DiscretizedIntegratedGradients
            {
                Steps = AtLeast(id, "n_steps", reader.Int("n_steps", 50), 2),
                Strategy = reader.String("method") switch
                {
                    null or "greedy" => PathStrategy.Greedy,
                    "maxcount" => PathStrategy.MaxCount,
                    string other => throw new InvalidRequestException($"{id}: unknown method '{other}'. Available: greedy, maxcount."),
                },
                Neighbors = Positive(id, "n_neighbors", reader.Int("n_neighbors", 50)),
            },
            _ => throw new InvalidRequestException($"Unknown attribution method '{id}'."),
        };
        if (reader.Bool("return_convergence_delta", false))
        {
            throw new InvalidRequestException($"{id}: return_convergence_delta is not implemented by the native backend yet; omit it.");
        }

        return method;
    }

    private static int Positive(string id, string key, int value) => AtLeast(id, key, value, 1);

    private static int AtLeast(string id, string key, int value, int min) =>
        value >= min ? value : throw new InvalidRequestException($"{id}: argument '{key}' must be at least {min} (got {value}).");

    private static int? PositiveOrNull(string id, string key, int? value) => value is int v ? Positive(id, key, v) : null;

    private static double NonNegative(string id, string key, double value) =>
        value >= 0 && double.IsFinite(value) ? value : throw new InvalidRequestException($"{id}: argument '{key}' must be a finite number >= 0 (got {value}).");
}

/// <summary>The integration arguments as Inseq records them (only those that differ from the defaults).</summary>
internal static class IntegrationArguments
{
    public static IReadOnlyDictionary<string, object?> Of(int steps, IntegrationMethod method, int? internalBatchSize)
    {
        var args = new Dictionary<string, object?>();
        if (steps != 50)
        {
            args["n_steps"] = steps;
        }

        if (method != IntegrationMethod.GaussLegendre)
        {
            args["method"] = IntegrationMethodNames.ToId(method);
        }

        if (internalBatchSize is int ibs)
        {
            args["internal_batch_size"] = ibs;
        }

        return args;
    }
}
