using System.Text.RegularExpressions;
using InseqBridge.Data;

namespace InseqBridge.Aggregation;

/// <summary>Inseq's <c>split</c> aggregator: groups tokens between tokens matching <see cref="SplitPattern"/>
/// (e.g. sentence punctuation) and merges each group like <see cref="SpansAggregator"/>.</summary>
/// <param name="SplitPattern">Regular expression a separator token matches.</param>
/// <param name="SplitMode">Where separator tokens go.</param>
/// <param name="AggregateSource">Split the source.</param>
/// <param name="AggregateTarget">Split the target.</param>
/// <param name="Fn">Reduction (default absmax).</param>
public sealed record StringSplitAggregator(
    string SplitPattern,
    SplitMode SplitMode = SplitMode.Single,
    bool AggregateSource = true,
    bool AggregateTarget = true,
    AggregationFunction? Fn = null) : IAggregator
{
    /// <inheritdoc />
    public string Id => "split";

    /// <inheritdoc />
    public FeatureAttributionSequenceOutput Aggregate(FeatureAttributionSequenceOutput sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        var regex = new Regex(SplitPattern, RegexOptions.CultureInvariant);
        return new SpansAggregator(
            AggregateSource ? GetSpans(sequence.Source, regex, SplitMode) : [],
            AggregateTarget ? GetSpans(sequence.Target, regex, SplitMode) : [],
            Fn).Aggregate(sequence);
    }

    /// <summary>Groups of two or more tokens delimited by separator tokens.</summary>
    public static IReadOnlyList<(int Start, int End)> GetSpans(IReadOnlyList<TokenWithId> tokens, Regex separator, SplitMode mode)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(separator);
        var groups = new List<(int Start, int End)>();
        int start = 0;
        for (int i = 0; i < tokens.Count; i++)
        {
            if (!separator.IsMatch(tokens[i].Token))
            {
                continue;
            }

            switch (mode)
            {
                case SplitMode.Single:
                    groups.Add((start, i));
                    groups.Add((i, i + 1));
                    start = i + 1;
                    break;
                case SplitMode.Start:
                    groups.Add((start, i));
                    start = i;
                    break;
                case SplitMode.End:
                    groups.Add((start, i + 1));
                    start = i + 1;
                    break;
            }
        }

        groups.Add((start, tokens.Count));
        return groups.Where(g => g.End - g.Start > 1).ToList();
    }
}
