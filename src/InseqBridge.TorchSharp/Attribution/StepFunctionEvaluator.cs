using System.Collections.Concurrent;
using InseqBridge.Attribution;
using InseqBridge.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.TorchSharp.Attribution;

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

/// <summary>
/// Computes Inseq's step functions on TorchSharp tensors with Inseq's exact definitions, plus user step functions
/// registered under an id. Every function is differentiable, so it can be the attributed function too.
/// </summary>
public static class StepFunctionEvaluator
{
    private static readonly ConcurrentDictionary<string, StepFunctionDelegate> Custom = new(StringComparer.Ordinal);

    /// <summary>Ids of the registered user step functions.</summary>
    public static IEnumerable<string> CustomIds => Custom.Keys;

    /// <summary>Registers a user step function under <paramref name="id"/> (Inseq's register_step_function).</summary>
    /// <exception cref="InvalidRequestException">The id is taken and <paramref name="overwrite"/> is false.</exception>
    public static void Register(string id, StepFunctionDelegate function, bool overwrite = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        ArgumentNullException.ThrowIfNull(function);
        if (StepFunction.BuiltInIds.Contains(id))
        {
            throw new InvalidRequestException($"'{id}' is a built-in step function id; choose another id.");
        }

        if (!overwrite && Custom.ContainsKey(id))
        {
            throw new InvalidRequestException($"A step function '{id}' is already registered; pass overwrite: true to replace it.");
        }

        Custom[id] = function;
    }

    /// <summary>Scores [batch] of <paramref name="function"/> at one step.</summary>
    public static Tensor Evaluate(StepFunction function, StepFunctionContext context)
    {
        Tensor logits = context.Logits;
        Tensor target = context.TargetIds.reshape(logits.shape[0], 1);
        using var scope = torch.NewDisposeScope();
        Tensor result = function switch
        {
            Logit => logits.gather(-1, target).squeeze(-1),
            Probability p => (p.LogProb ? logits.log_softmax(-1) : logits.softmax(-1)).gather(-1, target).squeeze(-1),
            Entropy => EntropyOf(logits),
            CrossEntropy => CrossEntropyOf(logits, context.TargetIds),
            Perplexity => PowerOfTwo(CrossEntropyOf(logits, context.TargetIds)),
            TopPSize t => TopPSizeOf(logits, t.TopP),
            ContrastLogits => TokenScore(ContrastSideLogits(context), ContrastTarget(context), null),
            ContrastProbability c => TokenScore(ContrastSideLogits(context), ContrastTarget(context), c.LogProb),
            ContrastLogitsDifference => TokenScore(logits, context.TargetIds, null) - TokenScore(ContrastSideLogits(context), ContrastTarget(context), null),
            ContrastProbabilityDifference d =>
                TokenScore(logits, context.TargetIds, d.LogProb) - TokenScore(ContrastSideLogits(context), ContrastTarget(context), d.LogProb),
            Pcxmi => -torch.log2(TokenScore(logits, context.TargetIds, false) / TokenScore(ContrastSideLogits(context), ContrastTarget(context), false)),
            InContextPvi => (-TokenScore(logits, context.TargetIds, true)).Plus(TokenScore(ContrastSideLogits(context), ContrastTarget(context), true)),
            KlDivergence k => KlDivergenceOf(context, k),
            McDropoutProbabilityAverage m => McDropoutOf(context, m),
            CustomStepFunction c => Custom.TryGetValue(c.Id, out var fn)
                ? fn(context, c.Args)
                : throw new InvalidRequestException($"Step function '{c.Id}' is not registered."),
            _ => throw new InvalidRequestException($"Step function '{function.Id}' is not implemented by the native backend."),
        };
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>The target's logit (<paramref name="logProb"/> null), probability or log-probability.</summary>
    private static Tensor TokenScore(Tensor logits, Tensor targetIds, bool? logProb)
    {
        Tensor values = logProb switch
        {
            null => logits,
            true => logits.log_softmax(-1),
            false => logits.softmax(-1),
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
        Tensor original = TokenScore(context.Logits, context.TargetIds, m.LogProb);
        var samples = new Tensor[m.Samples];
        for (int i = 0; i < samples.Length; i++)
        {
            samples[i] = TokenScore(noisy(), context.TargetIds, m.LogProb);
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
