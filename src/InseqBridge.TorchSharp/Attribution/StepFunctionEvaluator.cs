using System.Collections.Concurrent;
using InseqBridge.Attribution;
using InseqBridge.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.TorchSharp.Attribution;

/// <summary>What a step function sees at one generation step.</summary>
/// <param name="Logits">Next-token logits [batch, vocab] (the last position of the forward pass).</param>
/// <param name="TargetIds">Target token ids [batch].</param>
public sealed record StepFunctionContext(Tensor Logits, Tensor TargetIds);

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
            Perplexity => torch.pow(2.0, CrossEntropyOf(logits, context.TargetIds)),
            TopPSize t => TopPSizeOf(logits, t.TopP),
            CustomStepFunction c => Custom.TryGetValue(c.Id, out var fn)
                ? fn(context, c.Args)
                : throw new InvalidRequestException($"Step function '{c.Id}' is not registered."),
            _ => throw new InvalidRequestException($"Step function '{function.Id}' is not implemented by the native backend."),
        };
        return result.MoveToOuterDisposeScope();
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
        Tensor removed = cumulative <= (1 - topP);
        removed[TensorIndex.Ellipsis, -1] = torch.tensor(false);
        Tensor kept = removed.logical_not().sum(-1);
        return kept.to(ScalarType.Float32);
    }
}
