using System.Collections.Concurrent;
using InseqBridge.Attribution;
using InseqBridge.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution;

/// <summary>What a step function sees at one generation step.</summary>
/// <param name="Logits">Next-token logits [batch, vocab] (the last position of the forward pass).</param>
/// <param name="TargetIds">Target token ids [batch].</param>
public sealed record StepFunctionContext(Tensor Logits, Tensor TargetIds)
{
    /// <summary>The contrastive target token ids [batch] aligned to this step (null: the original targets).</summary>
    public Tensor? ContrastTargetIds { get; init; }

    /// <summary>
    /// Runs the model on the contrastive inputs of this step and returns their next-token logits [batch, vocab]
    /// (null: no contrastive inputs, the original logits stand in). Computed on first use.
    /// </summary>
    public Func<Tensor>? ContrastLogits { get; init; }

    /// <summary>Whether the function is being evaluated as the attributed function (gradients flow through it).</summary>
    public bool IsAttributedFunction { get; init; }

    /// <summary><c>contrast_force_inputs</c>: contrastive functions use the contrastive inputs even when attributed.</summary>
    public bool ForceContrastInputs { get; init; }

    /// <summary>
    /// Runs one training-mode forward (dropout active, fresh masks at each call) on this step's inputs and returns
    /// its next-token logits [batch, vocab]; null when the backend cannot sample dropout. Used by
    /// <c>mc_dropout_prob_avg</c>.
    /// </summary>
    public Func<Tensor>? NoisyLogits { get; init; }
}

/// <summary>A user step function: returns one score per batch row ([batch]) from the step context.</summary>
public delegate Tensor StepFunctionDelegate(StepFunctionContext context, IReadOnlyDictionary<string, string> arguments);

/// <summary>The native code of a step function: one score per batch row ([batch]) of <paramref name="function"/> (the
/// record its descriptor built, arguments included) at one step.</summary>
/// <param name="function">The step function record.</param>
/// <param name="context">The step.</param>
public delegate Tensor StepFunctionEvaluation(StepFunction function, StepFunctionContext context);

/// <summary>
/// Computes step functions on TorchSharp tensors: Inseq's built-in ones with Inseq's exact definitions, and user step
/// functions, each attached to its id in <see cref="StepFunctionRegistry"/>. Every function is differentiable, so it
/// can be the attributed function too.
/// </summary>
public static class StepFunctionEvaluator
{
    private static readonly ConcurrentDictionary<string, StepFunctionEvaluation> Evaluations = new(
        new Dictionary<string, StepFunctionEvaluation>
        {
            ["logit"] = (_, c) => TokenScore(c.Logits, c.TargetIds, TokenScoreKind.Logit),
            ["probability"] = (f, c) => TokenScore(c.Logits, c.TargetIds, ProbabilityKind(As<Probability>(f).LogProb)),
            ["entropy"] = (_, c) => EntropyOf(c.Logits),
            ["crossentropy"] = (_, c) => CrossEntropyOf(c.Logits, c.TargetIds),
            ["perplexity"] = (_, c) => PowerOfTwo(CrossEntropyOf(c.Logits, c.TargetIds)),
            ["top_p_size"] = (f, c) => TopPSizeOf(c.Logits, As<TopPSize>(f).TopP),
            ["contrast_logits"] = (_, c) => TokenScore(ContrastSideLogits(c), ContrastTarget(c), TokenScoreKind.Logit),
            ["contrast_prob"] = (f, c) => TokenScore(ContrastSideLogits(c), ContrastTarget(c), ProbabilityKind(As<ContrastProbability>(f).LogProb)),
            ["contrast_logits_diff"] = (_, c) =>
                TokenScore(c.Logits, c.TargetIds, TokenScoreKind.Logit) - TokenScore(ContrastSideLogits(c), ContrastTarget(c), TokenScoreKind.Logit),
            ["contrast_prob_diff"] = (f, c) =>
            {
                TokenScoreKind kind = ProbabilityKind(As<ContrastProbabilityDifference>(f).LogProb);
                return TokenScore(c.Logits, c.TargetIds, kind) - TokenScore(ContrastSideLogits(c), ContrastTarget(c), kind);
            },
            ["pcxmi"] = (_, c) => -torch.log2(
                TokenScore(c.Logits, c.TargetIds, TokenScoreKind.Probability) / TokenScore(ContrastSideLogits(c), ContrastTarget(c), TokenScoreKind.Probability)),
            ["in_context_pvi"] = (_, c) =>
                (-TokenScore(c.Logits, c.TargetIds, TokenScoreKind.LogProbability)).Plus(TokenScore(ContrastSideLogits(c), ContrastTarget(c), TokenScoreKind.LogProbability)),
            ["kl_divergence"] = (f, c) => KlDivergenceOf(c, As<KlDivergence>(f)),
            ["mc_dropout_prob_avg"] = (f, c) => McDropoutOf(c, As<McDropoutProbabilityAverage>(f)),
        },
        StringComparer.Ordinal);

    /// <summary>What a token score reads from the logits.</summary>
    private enum TokenScoreKind
    {
        /// <summary>The raw logit.</summary>
        Logit,

        /// <summary>The softmax probability.</summary>
        Probability,

        /// <summary>The log-softmax probability.</summary>
        LogProbability,
    }

    /// <summary>
    /// Ids of the registered user step functions that take any argument (registered with a
    /// <see cref="StepFunctionDelegate"/>): callers hand them every step score argument. User functions with declared
    /// arguments get theirs routed by name, as built-in ones.
    /// </summary>
    public static IEnumerable<string> CustomIds =>
        Evaluations.Keys.Where(id => !StepFunctionRegistry.IsBuiltIn(id) && StepFunctionRegistry.TryGet(id, out var d) && d.AcceptsUndeclaredArguments);

    /// <summary>
    /// Registers a user step function under <paramref name="id"/> (Inseq's register_step_function): it is added to
    /// <see cref="StepFunctionRegistry"/> (taking any argument, passed on as given) and evaluated by
    /// <paramref name="function"/>.
    /// </summary>
    /// <exception cref="InvalidRequestException">The id is built-in, or taken and <paramref name="overwrite"/> is false.</exception>
    public static void Register(string id, StepFunctionDelegate function, bool overwrite = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        ArgumentNullException.ThrowIfNull(function);
        Register(
            new StepFunctionDescriptor { Id = id, Summary = "User step function (registered from C#).", AcceptsUndeclaredArguments = true },
            (f, c) => function(c, f is CustomStepFunction custom ? custom.Args : f.Arguments.ToDictionary(kv => kv.Key, kv => Convert.ToString(kv.Value, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty)),
            overwrite);
    }

    /// <summary>
    /// Registers a user step function with declared arguments: <paramref name="descriptor"/> goes to
    /// <see cref="StepFunctionRegistry"/> and <paramref name="evaluation"/> computes it.
    /// </summary>
    /// <exception cref="InvalidRequestException">The id is built-in, or taken and <paramref name="overwrite"/> is false.</exception>
    public static void Register(StepFunctionDescriptor descriptor, StepFunctionEvaluation evaluation, bool overwrite = false)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentNullException.ThrowIfNull(evaluation);
        StepFunctionRegistry.Register(descriptor, overwrite);
        Evaluations[descriptor.Id] = evaluation;
    }

    /// <summary>Removes a user step function (from the registry too); built-in ones stay.</summary>
    /// <returns>Whether one was removed.</returns>
    public static bool Unregister(string id) =>
        StepFunctionRegistry.Unregister(id) | (!StepFunctionRegistry.IsBuiltIn(id) && Evaluations.TryRemove(id, out _));

    /// <summary>Scores [batch] of <paramref name="function"/> at one step.</summary>
    public static Tensor Evaluate(StepFunction function, StepFunctionContext context)
    {
        using var scope = torch.NewDisposeScope();
        Tensor result = Evaluations.TryGetValue(function.Id, out StepFunctionEvaluation? evaluation)
            ? evaluation(function, context)
            : throw new InvalidRequestException(function is CustomStepFunction
                ? $"Step function '{function.Id}' is not registered."
                : $"Step function '{function.Id}' is not implemented by the native backend.");
        return result.MoveToOuterDisposeScope();
    }

    private static T As<T>(StepFunction function)
        where T : StepFunction =>
        function as T ?? throw new InvalidRequestException($"Step function '{function.Id}' was built as {function.GetType().Name}; build it with StepFunction.FromId.");

    private static TokenScoreKind ProbabilityKind(bool logProb) => logProb ? TokenScoreKind.LogProbability : TokenScoreKind.Probability;

    /// <summary>The target's logit, probability or log-probability.</summary>
    private static Tensor TokenScore(Tensor logits, Tensor targetIds, TokenScoreKind kind)
    {
        Tensor values = kind switch
        {
            TokenScoreKind.Logit => logits,
            TokenScoreKind.LogProbability => logits.log_softmax(-1),
            _ => logits.softmax(-1),
        };
        return values.gather(-1, targetIds.reshape(logits.shape[0], 1)).squeeze(-1);
    }

    /// <summary>
    /// Z-score of the clean probability against <c>n_mcd_steps</c> dropout samples: (p - mean) / std with torch's
    /// unbiased std (std 0 gives inf or NaN, as in torch).
    /// </summary>
    private static Tensor McDropoutOf(StepFunctionContext context, McDropoutProbabilityAverage m)
    {
        if (m.Samples < 1)
        {
            throw new InvalidRequestException($"mc_dropout_prob_avg: n_mcd_steps must be at least 1 (got {m.Samples}).");
        }

        Func<Tensor> noisy = context.NoisyLogits
            ?? throw new InvalidRequestException("mc_dropout_prob_avg needs dropout forward passes, which this step function context does not provide.");
        Tensor original = TokenScore(context.Logits, context.TargetIds, ProbabilityKind(m.LogProb));
        var samples = new Tensor[m.Samples];
        for (int i = 0; i < samples.Length; i++)
        {
            samples[i] = TokenScore(noisy(), context.TargetIds, ProbabilityKind(m.LogProb));
        }

        Tensor stacked = torch.stack(samples);
        return (original - stacked.mean([0L])) / stacked.std(0L, unbiased: true);
    }

    private static Tensor ContrastTarget(StepFunctionContext context) => context.ContrastTargetIds ?? context.TargetIds;

    /// <summary>
    /// The logits contrastive functions read: as attributed function without forced inputs only the target token is
    /// swapped (gradients need the original inputs), otherwise the model runs on the contrastive inputs.
    /// </summary>
    private static Tensor ContrastSideLogits(StepFunctionContext context) =>
        context.IsAttributedFunction && !context.ForceContrastInputs ? context.Logits : ContrastForward(context);

    private static Tensor ContrastForward(StepFunctionContext context) => context.ContrastLogits?.Invoke() ?? context.Logits;

    private static Tensor KlDivergenceOf(StepFunctionContext context, KlDivergence k)
    {
        if (context.IsAttributedFunction && !context.ForceContrastInputs)
        {
            throw new InvalidRequestException(
                "kl_divergence as attributed function compares two different forward passes; set contrast_force_inputs (ContrastOptions.ForceInputs) to use it.");
        }

        Tensor original = context.Logits;
        Tensor contrast = ContrastForward(context);
        long vocabulary = original.shape[^1];
        if (k.TopK < 0 || k.TopK > vocabulary)
        {
            throw new InvalidRequestException($"kl_divergence: top_k must be in [0, {vocabulary}] (got {k.TopK}).");
        }

        if (k.TopP < 1.0)
        {
            Tensor removed = TopPMask(original.Plus(contrast), k.TopP, k.MinTokensToKeep);
            original = original.masked_fill(removed, SafeScalars.NegativeInfinity);
            contrast = contrast.masked_fill(removed, SafeScalars.NegativeInfinity);
        }

        if (k.TopK > 0)
        {
            Tensor merged = original.Plus(contrast);
            int kept = Math.Max(k.TopK, k.MinTokensToKeep);
            Tensor threshold = merged.topk(kept).values.narrow(-1, kept - 1, 1);
            Tensor removed = merged < threshold;
            original = original.masked_fill(removed, SafeScalars.NegativeInfinity);
            contrast = contrast.masked_fill(removed, SafeScalars.NegativeInfinity);
        }

        // KL(original || contrast) with both distributions given as log-probabilities, summed per row.
        Tensor p = original.log_softmax(-1);
        Tensor q = contrast.log_softmax(-1);
        return torch.nn.functional.kl_div(q, p, reduction: torch.nn.Reduction.None, log_target: true).sum(-1);
    }

    /// <summary>Tokens outside the top-p nucleus (ascending cumulative probability at most 1 - top_p).</summary>
    private static Tensor TopPMask(Tensor logits, double topP, int minTokensToKeep)
    {
        if (topP < 0 || topP > 1)
        {
            throw new InvalidRequestException($"top_p must be in [0, 1] (got {topP}).");
        }

        if (minTokensToKeep < 1)
        {
            throw new InvalidRequestException($"min_tokens_to_keep must be a positive integer (got {minTokensToKeep}).");
        }

        var (sorted, indices) = logits.sort(-1, descending: false);
        using Scalar keep = (1 - topP).ToScalar();
        Tensor sortedRemoved = sorted.softmax(-1).cumsum(-1).le(keep);
        sortedRemoved[TensorIndex.Ellipsis, TensorIndex.Slice(-minTokensToKeep)] = torch.tensor(false);
        return sortedRemoved.scatter(-1, indices, sortedRemoved);
    }

    /// <summary>2 ** <paramref name="exponent"/> (the base a float64 0-d tensor, as <c>torch.pow(2.0, t)</c> makes it).</summary>
    private static Tensor PowerOfTwo(Tensor exponent)
    {
        using Tensor two = torch.tensor(2.0);
        return torch.pow(two, exponent);
    }

    private static Tensor EntropyOf(Tensor logits)
    {
        // torch.distributions.Categorical: normalise logits, then -sum(p * log p).
        Tensor normalized = logits - logits.logsumexp(-1, keepdim: true);
        Tensor probs = normalized.softmax(-1);
        return -(probs * normalized).sum(-1);
    }

    private static Tensor CrossEntropyOf(Tensor logits, Tensor target) =>
        -logits.log_softmax(-1).gather(-1, target.reshape(-1, 1)).squeeze(-1);

    private static Tensor TopPSizeOf(Tensor logits, double topP)
    {
        if (topP < 0 || topP > 1)
        {
            throw new InvalidRequestException($"top_p must be in [0, 1] (got {topP}).");
        }

        // Tokens whose ascending cumulative probability stays <= 1 - top_p are removed; the most likely one is kept.
        var (sorted, _) = logits.sort(-1, descending: false);
        Tensor cumulative = sorted.softmax(-1).cumsum(-1);
        using Scalar keep = (1 - topP).ToScalar();
        Tensor removed = cumulative.le(keep);
        removed[TensorIndex.Ellipsis, -1] = torch.tensor(false);
        Tensor kept = removed.logical_not().sum(-1);
        return kept.to(ScalarType.Float32);
    }
}
