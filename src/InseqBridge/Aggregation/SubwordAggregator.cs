using InseqBridge.Data;

namespace InseqBridge.Aggregation;

/// <summary>
/// Inseq's <c>subwords</c> aggregator: finds word spans from a boundary symbol and merges them like
/// <see cref="SpansAggregator"/>. With <see cref="IsSuffixSymbol"/> false (SentencePiece "▁", GPT-2 "Ġ") a token
/// starting with a symbol begins a new word; with true (e.g. "##") such tokens continue the previous word.
/// </summary>
/// <param name="SpecialChars">Boundary symbols; defaults to "▁".</param>
/// <param name="IsSuffixSymbol">Whether the symbol marks continuation pieces.</param>
/// <param name="AggregateSource">Merge source subwords.</param>
/// <param name="AggregateTarget">Merge target subwords.</param>
/// <param name="Fn">Reduction (default absmax, step scores by <see cref="SpansAggregator.DefaultStepScoreFunctions"/>).</param>
public sealed record SubwordAggregator(
    IReadOnlyList<string>? SpecialChars = null,
    bool IsSuffixSymbol = false,
    bool AggregateSource = true,
    bool AggregateTarget = true,
    AggregationFunction? Fn = null) : IAggregator
{
    /// <inheritdoc />
    public string Id => "subwords";

    /// <inheritdoc />
    public FeatureAttributionSequenceOutput Aggregate(FeatureAttributionSequenceOutput sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        IReadOnlyList<string> chars = SpecialChars ?? ["▁"];
        return new SpansAggregator(
            AggregateSource ? GetSpans(sequence.Source, chars, IsSuffixSymbol) : [],
            AggregateTarget ? GetSpans(sequence.Target, chars, IsSuffixSymbol) : [],
            Fn).Aggregate(sequence);
    }

    /// <summary>The word spans of <paramref name="tokens"/> (Inseq's <c>get_spans</c>); empty when no token contains a symbol.</summary>
    public static IReadOnlyList<(int Start, int End)> GetSpans(IReadOnlyList<TokenWithId> tokens, IReadOnlyList<string> specialChars, bool isSuffixSymbol)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(specialChars);
        var spans = new List<(int, int)>();
        if (!tokens.Any(t => specialChars.Any(c => t.Token.Contains(c, StringComparison.Ordinal))))
        {
            return spans;
        }

        int lastPrefix = 0;
        for (int i = 0; i < tokens.Count; i++)
        {
            bool startsWithSymbol = specialChars.Any(c => tokens[i].Token.StartsWith(c, StringComparison.Ordinal));
            bool continues = startsWithSymbol == isSuffixSymbol;
            if (continues)
            {
                if (i == tokens.Count - 1 && i - lastPrefix > 1)
                {
                    spans.Add((lastPrefix, i));
                }

                continue;
            }

            if (i - lastPrefix > 1)
            {
                spans.Add((lastPrefix, i));
            }

            lastPrefix = i;
        }

        return spans;
    }
}
