using InseqBridge.Errors;

namespace InseqBridge.Aggregation;

/// <summary>
/// Builds an aggregator pipeline from Inseq's ids, as <c>aggregate(aggregator=[...], aggregate_fn=[...])</c> does:
/// each id is an aggregator (<c>scores</c>, <c>subwords</c>) or an aggregation function (<c>mean</c>, <c>max</c>,
/// <c>min</c>, <c>sum</c>, <c>prod</c>, <c>absmax</c>, <c>vnorm</c>), which means <c>scores</c> with that function.
/// Aggregators that need arguments (<c>spans</c>, <c>split</c>, <c>pair</c>, <c>slices</c>) are built in code with
/// their records.
/// </summary>
public static class AggregatorPipeline
{
    /// <summary>Aggregator ids usable without arguments.</summary>
    public static IReadOnlyList<string> AggregatorIds { get; } = ["scores", "subwords"];

    private static readonly string[] NeedArguments = ["spans", "split", "pair", "slices"];

    /// <summary>The pipeline for <paramref name="ids"/>, with optional per-aggregator functions.</summary>
    /// <param name="ids">Aggregator or aggregation function ids, applied in order.</param>
    /// <param name="functions">Aggregation function per aggregator (Inseq's <c>aggregate_fn</c>), or null.</param>
    /// <exception cref="InvalidRequestException">Unknown id, counts differ, or an aggregator that needs arguments.</exception>
    public static IAggregator[] Parse(IReadOnlyList<string> ids, IReadOnlyList<string>? functions = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (functions is not null && functions.Count != ids.Count)
        {
            throw new InvalidRequestException($"{functions.Count} aggregation functions for {ids.Count} aggregators: give one per aggregator.");
        }

        var pipeline = new IAggregator[ids.Count];
        for (int i = 0; i < ids.Count; i++)
        {
            AggregationFunction? fn = functions is null ? null : Function(functions[i]);
            pipeline[i] = ids[i] switch
            {
                "scores" => new ScoresAggregator(fn),
                "subwords" => new SubwordAggregator(Fn: fn),
                var id when NeedArguments.Contains(id) => throw new InvalidRequestException(
                    $"Aggregator '{id}' needs arguments (spans, split pattern or a paired output); build {id} with its record in code."),
                var id when TryFunction(id, out AggregationFunction f) => fn is null
                    ? new ScoresAggregator(f)
                    : throw new InvalidRequestException($"'{id}' is an aggregation function; do not give it another function."),
                var id => throw new InvalidRequestException(
                    $"Unknown aggregator '{id}'. Choose from {string.Join(", ", AggregatorIds)}, or an aggregation function: {string.Join(", ", Enum.GetValues<AggregationFunction>().Select(f => f.Id()))}."),
            };
        }

        return pipeline;
    }

    private static bool TryFunction(string id, out AggregationFunction function)
    {
        function = default;
        foreach (AggregationFunction f in Enum.GetValues<AggregationFunction>())
        {
            if (f.Id() == id)
            {
                function = f;
                return true;
            }
        }

        return false;
    }

    private static AggregationFunction Function(string id) => TryFunction(id, out AggregationFunction f)
        ? f
        : throw new InvalidRequestException($"Unknown aggregation function '{id}'. Choose from {string.Join(", ", Enum.GetValues<AggregationFunction>().Select(x => x.Id()))}.");
}
