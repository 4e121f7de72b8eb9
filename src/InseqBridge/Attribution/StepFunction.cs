using InseqBridge.Errors;

namespace InseqBridge.Attribution;

/// <summary>
/// A step function: a scalar per generated token computed from the model's output distribution. Used as a step
/// score (recorded per step) or as the attributed function (what gradients are taken of). <see cref="Id"/> is
/// Inseq's identifier.
/// </summary>
public abstract record StepFunction
{
    /// <summary>Inseq's id.</summary>
    public abstract string Id { get; }

    /// <summary>Name Inseq records in <c>info.attributed_fn</c> (the Python function's name).</summary>
    public virtual string FunctionName => Id + "_fn";

    /// <summary>Arguments that differ from the defaults, as Inseq records them.</summary>
    public virtual IReadOnlyDictionary<string, object?> Arguments => new Dictionary<string, object?>();

    /// <summary>Ids of the built-in step functions (Inseq's 14).</summary>
    public static IReadOnlyList<string> BuiltInIds => [.. StepFunctionRegistry.Ids.Where(StepFunctionRegistry.IsBuiltIn)];

    /// <summary>Ids of every step function this process knows: the built-in ones, then registered ones.</summary>
    public static IReadOnlyList<string> KnownIds => StepFunctionRegistry.Ids;

    /// <summary>The registry entry of this step function (null for ids only a backend knows).</summary>
    public StepFunctionDescriptor? GetDescriptor() => StepFunctionRegistry.TryGet(Id, out var d) ? d : null;

    /// <summary>The arguments step function <paramref name="id"/> declares (empty for unknown ids).</summary>
    /// <param name="id">Step function id.</param>
    public static IReadOnlyList<string> ArgumentNames(string id) =>
        StepFunctionRegistry.TryGet(id, out var d) ? [.. d.Arguments.Select(a => a.Name)] : [];

    /// <summary>
    /// The entries of <paramref name="arguments"/> that step function <paramref name="id"/> takes: Inseq routes one set
    /// of step score keyword arguments to every step function by its signature.
    /// </summary>
    /// <param name="id">Step function id.</param>
    /// <param name="arguments">All arguments given.</param>
    public static Dictionary<string, string> RouteArguments(string id, IReadOnlyDictionary<string, string> arguments) =>
        arguments.Where(kv => ArgumentNames(id).Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value);

    /// <summary>The probability of the target token (Inseq's default attributed function).</summary>
    public static StepFunction Default { get; } = new Probability();

    /// <summary>Creates a step function from its id and K=V arguments.</summary>
    /// <param name="id">A registered id (<see cref="StepFunctionRegistry"/>), or one of <paramref name="customIds"/>.</param>
    /// <param name="args">Arguments (e.g. <c>logprob=true</c>, <c>top_p=0.9</c>).</param>
    /// <param name="customIds">Ids a backend evaluates without a registry entry; they take any argument.</param>
    /// <exception cref="InvalidRequestException">Unknown id or argument.</exception>
    public static StepFunction FromId(string id, IReadOnlyDictionary<string, string>? args = null, IEnumerable<string>? customIds = null)
    {
        if (StepFunctionRegistry.TryGet(id, out StepFunctionDescriptor? descriptor))
        {
            return descriptor.Build(args);
        }

        if (customIds?.Contains(id) == true)
        {
            return new CustomStepFunction(id, args ?? new Dictionary<string, string>());
        }

        throw Unknown(id, customIds);
    }

    /// <summary>
    /// The arguments step function <paramref name="id"/> declares, with their defaults (null: required or none).
    /// </summary>
    /// <exception cref="InvalidRequestException">Unknown id.</exception>
    public static IReadOnlyList<ArgumentDescription> DescribeArguments(string id) =>
        StepFunctionRegistry.TryGet(id, out StepFunctionDescriptor? descriptor)
            ? [.. descriptor.Arguments.Select(a => new ArgumentDescription(a.Name, a.Default))]
            : throw Unknown(id, null);

    private static InvalidRequestException Unknown(string id, IEnumerable<string>? customIds)
    {
        string[] known = [.. KnownIds.Concat(customIds ?? []).Distinct()];
        return new InvalidRequestException($"Unknown step function '{id}'.{CloseIds.Hint(id, known)} Available: {string.Join(", ", known)}.");
    }
}

/// <summary><c>logit</c>: the target token's logit.</summary>
public sealed record Logit : StepFunction
{
    /// <inheritdoc />
    public override string Id => "logit";
}

/// <summary><c>probability</c>: softmax probability of the target token (log-probability with <see cref="LogProb"/>).</summary>
public sealed record Probability : StepFunction
{
    /// <inheritdoc />
    public override string Id => "probability";

    /// <summary><c>logprob</c>: return log-probabilities.</summary>
    public bool LogProb { get; init; }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments =>
        LogProb ? new Dictionary<string, object?> { ["logprob"] = true } : new Dictionary<string, object?>();
}

/// <summary><c>entropy</c>: entropy (nats) of the output distribution.</summary>
public sealed record Entropy : StepFunction
{
    /// <inheritdoc />
    public override string Id => "entropy";
}

/// <summary><c>crossentropy</c>: cross-entropy (nats) of the target token.</summary>
public sealed record CrossEntropy : StepFunction
{
    /// <inheritdoc />
    public override string Id => "crossentropy";
}

/// <summary><c>perplexity</c>: 2 to the power of the natural-log cross-entropy (Inseq's definition, kept as is).</summary>
public sealed record Perplexity : StepFunction
{
    /// <inheritdoc />
    public override string Id => "perplexity";
}

/// <summary><c>top_p_size</c>: number of tokens in the nucleus of cumulative probability <see cref="TopP"/>.</summary>
public sealed record TopPSize : StepFunction
{
    /// <inheritdoc />
    public override string Id => "top_p_size";

    /// <summary><c>top_p</c>.</summary>
    public double TopP { get; init; } = 1.0;

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments => new Dictionary<string, object?> { ["top_p"] = TopP };
}

/// <summary>
/// <c>mc_dropout_prob_avg</c>: how far the target's probability (log-probability with <see cref="LogProb"/>) under
/// the model in eval mode lies from <see cref="Samples"/> Monte Carlo dropout predictions, as a z-score:
/// (p - mean(noisy)) / std(noisy), with the unbiased standard deviation. The noisy passes run the step's inputs with
/// the model's dropout active at the config's rates (embeddings for encoder-decoders, so gradients flow through
/// them when attributed; token ids for decoder-only models), drawing masks from a generator seeded with the
/// request's <see cref="GenerationArguments.Seed"/> and advanced step after step, so a call is reproducible.
/// </summary>
/// <remarks>
/// Differences from Inseq 0.6.0: Inseq switches the model to train mode and never back, so every forward after the
/// first evaluation (later steps, attributions) also runs with dropout; here only the noisy passes do. Dropout masks
/// come from a different random stream than PyTorch's, so individual values cannot match Python; only their
/// distribution does. A model without dropout (all rates 0) gives noisy probabilities equal to the clean one, so the
/// score is what torch gives for that: 0 / 0 = NaN, or +-sqrt((n-1)/n) where the float32 mean of n equal values
/// rounds off by one step.
/// </remarks>
public sealed record McDropoutProbabilityAverage : StepFunction
{
    /// <inheritdoc />
    public override string Id => "mc_dropout_prob_avg";

    /// <summary>Default <see cref="Samples"/>.</summary>
    public const int DefaultSamples = 5;

    /// <summary><c>n_mcd_steps</c>: number of noisy (dropout) forward passes (default <see cref="DefaultSamples"/>, at least 1; one gives NaN, as torch's unbiased std).</summary>
    public int Samples { get; init; } = DefaultSamples;

    /// <summary><c>logprob</c>: use log-probabilities.</summary>
    public bool LogProb { get; init; }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments
    {
        get
        {
            var args = new Dictionary<string, object?>();
            if (Samples != DefaultSamples)
            {
                args["n_mcd_steps"] = Samples;
            }

            if (LogProb)
            {
                args["logprob"] = true;
            }

            return args;
        }
    }
}

/// <summary>A step function registered with the backend under <paramref name="RegisteredId"/>.</summary>
/// <param name="RegisteredId">The id it was registered under.</param>
/// <param name="Args">Arguments passed to it.</param>
public sealed record CustomStepFunction(string RegisteredId, IReadOnlyDictionary<string, string> Args) : StepFunction
{
    /// <inheritdoc />
    public override string Id => RegisteredId;

    /// <inheritdoc />
    public override string FunctionName => RegisteredId;

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments => Args.ToDictionary(kv => kv.Key, kv => (object?)kv.Value);
}

/// <summary>
/// A step function comparing the model's prediction with a contrastive alternative: a contrastive target token
/// (<see cref="ContrastOptions.Targets"/>) and/or contrastive context (<see cref="ContrastOptions.Sources"/>).
/// The request's <see cref="AttributionRequest.Contrast"/> supplies the contrastive inputs.
/// </summary>
public abstract record ContrastiveStepFunction : StepFunction;

/// <summary><c>contrast_logits</c>: the logit of the contrastive target token given the contrastive inputs.</summary>
public sealed record ContrastLogits : ContrastiveStepFunction
{
    /// <inheritdoc />
    public override string Id => "contrast_logits";
}

/// <summary><c>contrast_prob</c>: the probability of the contrastive target token given the contrastive inputs.</summary>
public sealed record ContrastProbability : ContrastiveStepFunction
{
    /// <inheritdoc />
    public override string Id => "contrast_prob";

    /// <summary><c>logprob</c>: return log-probabilities.</summary>
    public bool LogProb { get; init; }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments =>
        LogProb ? new Dictionary<string, object?> { ["logprob"] = true } : new Dictionary<string, object?>();
}

/// <summary><c>contrast_logits_diff</c>: logit of the target minus the contrastive logit (Yin and Neubig, 2022).</summary>
public sealed record ContrastLogitsDifference : ContrastiveStepFunction
{
    /// <inheritdoc />
    public override string Id => "contrast_logits_diff";
}

/// <summary><c>contrast_prob_diff</c>: probability of the target minus the contrastive probability.</summary>
public sealed record ContrastProbabilityDifference : ContrastiveStepFunction
{
    /// <inheritdoc />
    public override string Id => "contrast_prob_diff";

    /// <summary><c>logprob</c>: use log-probabilities.</summary>
    public bool LogProb { get; init; }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments =>
        LogProb ? new Dictionary<string, object?> { ["logprob"] = true } : new Dictionary<string, object?>();
}

/// <summary><c>pcxmi</c>: pointwise conditional cross-mutual information, -log2(p(original) / p(contrastive)).</summary>
public sealed record Pcxmi : ContrastiveStepFunction
{
    /// <inheritdoc />
    public override string Id => "pcxmi";
}

/// <summary><c>in_context_pvi</c>: in-context pointwise V-usable information, -log p(original) + log p(contrastive).</summary>
public sealed record InContextPvi : ContrastiveStepFunction
{
    /// <inheritdoc />
    public override string Id => "in_context_pvi";
}

/// <summary>
/// <c>kl_divergence</c>: KL divergence of the contrastive next-token distribution from the original one, after
/// optional top-p then top-k filtering on the sum of both logits. As attributed function it needs
/// <see cref="ContrastOptions.ForceInputs"/>.
/// </summary>
public sealed record KlDivergence : ContrastiveStepFunction
{
    /// <inheritdoc />
    public override string Id => "kl_divergence";

    /// <summary>Default <see cref="TopK"/> (no filter).</summary>
    public const int DefaultTopK = 0;

    /// <summary>Default <see cref="TopP"/> (no filter).</summary>
    public const double DefaultTopP = 1.0;

    /// <summary>Default <see cref="MinTokensToKeep"/>.</summary>
    public const int DefaultMinTokensToKeep = 1;

    /// <summary><c>top_k</c>: keep only the k most likely tokens (0: no filter).</summary>
    public int TopK { get; init; } = DefaultTopK;

    /// <summary><c>top_p</c>: keep only the nucleus of this cumulative probability (1: no filter).</summary>
    public double TopP { get; init; } = DefaultTopP;

    /// <summary><c>min_tokens_to_keep</c>: tokens kept at least by top-p filtering.</summary>
    public int MinTokensToKeep { get; init; } = DefaultMinTokensToKeep;

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments
    {
        get
        {
            var args = new Dictionary<string, object?>();
            if (TopK != DefaultTopK)
            {
                args["top_k"] = TopK;
            }

            if (TopP != DefaultTopP)
            {
                args["top_p"] = TopP;
            }

            if (MinTokensToKeep != DefaultMinTokensToKeep)
            {
                args["min_tokens_to_keep"] = MinTokensToKeep;
            }

            return args;
        }
    }
}
