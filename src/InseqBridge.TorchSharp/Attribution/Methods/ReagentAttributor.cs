using System.Text.Json;
using InseqBridge.Attribution;
using InseqBridge.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution.Methods;

/// <summary>
/// ReAGent's probing loop (see <see cref="Reagent"/>), following Inseq 0.6's <c>AggregateRationalizer</c>,
/// <c>DeltaProbImportanceScoreEvaluator</c>, <c>UniformTokenReplacer</c> and <c>TopKStoppingConditionEvaluator</c>
/// draw for draw (same tensor operations, same order of random calls on the seeded generator). Works on token ids of
/// a single sequence; the model is called without attention mask, as Inseq calls the Hugging Face model.
/// </summary>
internal static class ReagentAttributor
{
    /// <summary>Last-position logits [rows, vocab] of the model for the given ids (decoder ids for decoder-only models;
    /// encoder and decoder ids for encoder-decoders).</summary>
    public delegate Tensor LastLogits(Tensor? sourceIds, Tensor targetIds);

    /// <summary>
    /// Importance [tokens] of the probed ids (source, target prefix, or both concatenated), softmax-normalised and
    /// averaged over the probes that met the stopping condition (NaN when none did, as 0/0 in Inseq).
    /// </summary>
    /// <param name="logits">The model.</param>
    /// <param name="sourceIds">[1, source] encoder ids, or null for decoder-only models.</param>
    /// <param name="targetIds">[1, prefix] decoder ids.</param>
    /// <param name="target">The attributed token id.</param>
    /// <param name="probeTarget">True to probe the decoder ids (decoder-only models, or attribute_target).</param>
    /// <param name="method">Parameters.</param>
    /// <param name="sampler">Replacement-token sampler.</param>
    /// <param name="generator">Seeded generator.</param>
    public static Tensor Importance(
        LastLogits logits, Tensor? sourceIds, Tensor targetIds, long target, bool probeTarget, Reagent method, TokenSampler sampler, Generator generator)
    {
        using var noGrad = torch.no_grad();
        int probes = method.Probes;
        Tensor? source = sourceIds?.repeat(probes, 1);
        Tensor prefix = targetIds.repeat(probes, 1);
        long sourceLength = source?.shape[1] ?? 0;
        Tensor ids = source is null ? prefix : probeTarget ? torch.cat([source, prefix], 1) : source;

        (Tensor? Source, Tensor Target) Split(Tensor replaced) => source is null
            ? (null, replaced)
            : probeTarget
                ? (replaced.narrow(1, 0, sourceLength), replaced.narrow(1, sourceLength, replaced.shape[1] - sourceLength))
                : (replaced, prefix);

        Tensor ProbabilityOfTarget(Tensor replaced)
        {
            var (s, t) = Split(replaced);
            return torch.softmax(logits(s, t), -1).narrow(1, target, 1);
        }

        Tensor stop = torch.zeros(probes, ScalarType.Bool, device: ids.device);
        Tensor original = ProbabilityOfTarget(ids);
        Tensor score = torch.rand(ids.shape, generator: generator).to(ids.device);
        int topN = method.KeepTopN > 0 ? method.KeepTopN : (int)Math.Ceiling(method.KeepRatio!.Value * ids.shape[1]);
        for (int step = 0; step < method.MaxProbeSteps; step++)
        {
            using var scope = torch.NewDisposeScope();

            // Random replacement of ~replacing_ratio of the tokens, then the change of the target probability.
            using Scalar ratio = method.ReplacingRatio.ToScalar();
            using Scalar invertKeep = method.InvertKeep.ToScalar();
            using Scalar targetId = target.ToScalar();
            Tensor replaceMask = torch.rand(ids.shape, generator: generator).to(ids.device).lt(ratio);
            Tensor sampled = sampler.Sample(ids, generator);
            Tensor replaced = torch.where(replaceMask, sampled, ids);
            Tensor delta = original - ProbabilityOfTarget(replaced);
            Tensor deltaScore = (replaceMask * delta).Plus(replaceMask.logical_not() * -delta);
            Tensor updated = score.Plus(torch.logit(deltaScore.Times(0.5).Plus(0.5)));
            Tensor stopped = stop.unsqueeze(1);
            Tensor next = (stopped.logical_not() * updated).Plus(stopped * score);
            score.Dispose();
            score = next.MoveToOuterDisposeScope();

            // Stopping condition: keep the top-n tokens, replace the rest, check the target is in the top k.
            Tensor importance = torch.softmax(score, -1);
            Tensor top = importance.argsort(-1, descending: true).narrow(1, 0, Math.Min(topN, ids.shape[1]));
            Tensor rankMask = torch.ones_like(importance, dtype: ScalarType.Bool)
                .scatter(-1, top, torch.full(top.shape, invertKeep, ScalarType.Bool, device: ids.device));
            Tensor rankSampled = sampler.Sample(ids, generator);
            Tensor rankReplaced = torch.where(rankMask, rankSampled, ids);
            var (s, t) = Split(rankReplaced);
            Tensor best = logits(s, t).argsort(-1, descending: true).narrow(1, 0, method.StoppingConditionTopK);
            Tensor hit = best.eq(targetId).any(-1);
            Tensor newStop = stop.logical_or(hit);
            stop.Dispose();
            stop = newStop.MoveToOuterDisposeScope();
            if (stop.all().item<bool>())
            {
                break;
            }
        }

        Tensor final = torch.softmax(score, -1);
        return (final * stop.unsqueeze(1)).sum(0L) / stop.sum();
    }
}

/// <summary>
/// Replacement-token sampler of ReAGent: a token is replaced by a token drawn uniformly from its group (Inseq groups the
/// vocabulary by NLTK part-of-speech tag; the default here is one group holding the whole vocabulary). Draws one
/// <c>rand</c> per token, like Inseq's <c>POSTagTokenSampler</c>.
/// </summary>
internal sealed class TokenSampler : IDisposable
{
    private readonly Tensor _groupOf;
    private readonly Tensor _groupSizes;
    private readonly Tensor _offsets;
    private readonly Tensor _compact;

    private TokenSampler(IReadOnlyList<IReadOnlyList<long>> groups, long vocabulary)
    {
        var groupOf = new long[vocabulary];
        var compact = new List<long>();
        var sizes = new long[groups.Count];
        var offsets = new float[groups.Count];
        for (int g = 0; g < groups.Count; g++)
        {
            offsets[g] = compact.Count;
            sizes[g] = groups[g].Count;
            foreach (long id in groups[g])
            {
                if (id < 0 || id >= vocabulary)
                {
                    throw new InvalidRequestException($"reagent: pos_tag_map lists token id {id}, outside the vocabulary of {vocabulary} tokens.");
                }

                groupOf[id] = g;
                compact.Add(id);
            }
        }

        _groupOf = torch.tensor(groupOf).DetachFromDisposeScope();
        _groupSizes = torch.tensor(sizes).DetachFromDisposeScope();
        _offsets = torch.tensor(offsets).DetachFromDisposeScope();
        _compact = torch.tensor(compact.ToArray()).DetachFromDisposeScope();
    }

    /// <summary>One group with every id of the vocabulary.</summary>
    public static TokenSampler Uniform(long vocabulary) =>
        new([Enumerable.Range(0, (int)vocabulary).Select(i => (long)i).ToList()], vocabulary);

    /// <summary>Groups read from a JSON object <c>{"TAG": [ids...]}</c> (ids not listed fall in the first group, as
    /// Inseq's zero-initialised map does).</summary>
    public static TokenSampler FromFile(string path, long vocabulary)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
            var groups = doc.RootElement.EnumerateObject()
                .Select(p => (IReadOnlyList<long>)p.Value.EnumerateArray().Select(v => v.GetInt64()).ToList())
                .Where(g => g.Count > 0)
                .ToList();
            if (groups.Count == 0)
            {
                throw new InvalidRequestException($"reagent: pos_tag_map '{path}' has no group of token ids.");
            }

            return new TokenSampler(groups, vocabulary);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidRequestException($"reagent: cannot read pos_tag_map '{path}': {e.Message}");
        }
    }

    /// <summary>A replacement for every id of <paramref name="ids"/> (same shape).</summary>
    public Tensor Sample(Tensor ids, Generator generator)
    {
        Tensor cpuIds = ids.cpu();
        Tensor group = _groupOf.index_select(0, cpuIds.flatten()).view(cpuIds.shape);
        Tensor uniform = torch.rand(cpuIds.shape, generator: generator);
        Tensor index = (uniform * _groupSizes.index_select(0, group.flatten()).view(group.shape)).Plus(_offsets.index_select(0, group.flatten()).view(group.shape))
            .to(ScalarType.Int64);
        return _compact.index_select(0, index.flatten()).view(cpuIds.shape).to(ids.device);
    }

    /// <summary>Releases the lookup tables.</summary>
    public void Dispose()
    {
        _groupOf.Dispose();
        _groupSizes.Dispose();
        _offsets.Dispose();
        _compact.Dispose();
    }
}
