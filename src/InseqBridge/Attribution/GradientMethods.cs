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

    /// <summary>Default <c>n_samples</c>.</summary>
    public const int DefaultSamples = 5;

    /// <summary><c>n_samples</c>: random samples per example (default <see cref="DefaultSamples"/>).</summary>
    public int Samples { get; init; } = DefaultSamples;

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
            if (Samples != DefaultSamples)
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

    /// <summary><c>n_steps</c> (default <see cref="IntegratedGradients.DefaultSteps"/>).</summary>
    public int Steps { get; init; } = IntegratedGradients.DefaultSteps;

    /// <summary><c>method</c>: quadrature rule (default <see cref="IntegratedGradients.DefaultMethod"/>).</summary>
    public IntegrationMethod Method { get; init; } = IntegratedGradients.DefaultMethod;

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

    /// <summary><c>n_steps</c> (default <see cref="IntegratedGradients.DefaultSteps"/>).</summary>
    public int Steps { get; init; } = IntegratedGradients.DefaultSteps;

    /// <summary><c>method</c>: quadrature rule (default <see cref="IntegratedGradients.DefaultMethod"/>).</summary>
    public IntegrationMethod Method { get; init; } = IntegratedGradients.DefaultMethod;

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

    /// <summary>Default <c>n_neighbors</c>.</summary>
    public const int DefaultNeighbors = 50;

    /// <summary><c>n_steps</c>: points on each path, baseline and input included (default <see cref="IntegratedGradients.DefaultSteps"/>).</summary>
    public int Steps { get; init; } = IntegratedGradients.DefaultSteps;

    /// <summary><c>method</c>: <c>greedy</c> (default) or <c>maxcount</c>.</summary>
    public PathStrategy Strategy { get; init; } = PathStrategy.Greedy;

    /// <summary><c>n_neighbors</c>: size of the nearest-neighbour lists anchors are searched in (default <see cref="DefaultNeighbors"/>).</summary>
    public int Neighbors { get; init; } = DefaultNeighbors;

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments
    {
        get
        {
            var args = new Dictionary<string, object?>();
            if (Steps != IntegratedGradients.DefaultSteps)
            {
                args["n_steps"] = Steps;
            }

            if (Strategy != PathStrategy.Greedy)
            {
                args["method"] = "maxcount";
            }

            if (Neighbors != DefaultNeighbors)
            {
                args["n_neighbors"] = Neighbors;
            }

            return args;
        }
    }
}

/// <summary>The integration arguments as Inseq records them (only those that differ from the defaults).</summary>
internal static class IntegrationArguments
{
    public static IReadOnlyDictionary<string, object?> Of(int steps, IntegrationMethod method, int? internalBatchSize)
    {
        var args = new Dictionary<string, object?>();
        if (steps != IntegratedGradients.DefaultSteps)
        {
            args["n_steps"] = steps;
        }

        if (method != IntegratedGradients.DefaultMethod)
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
