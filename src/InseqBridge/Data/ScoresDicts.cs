using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using InseqBridge.Aggregation;
using InseqBridge.Errors;
using InseqBridge.Serialization;

namespace InseqBridge.Data;

/// <summary>A key of Inseq's score dictionaries: the Python tuple <c>(position, token)</c>.</summary>
/// <param name="Position">Position of the token in its sequence (source or target).</param>
/// <param name="Token">The raw token.</param>
public readonly record struct TokenKey(int Position, string Token)
{
    /// <summary>Python's <c>repr</c> of the tuple, e.g. <c>(2, 'Ġworld')</c>: the key as a JSON string.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"({Position}, {ScoresDicts.PythonRepr(Token)})");
}

/// <summary>
/// The scores of one sequence as Inseq's <c>FeatureAttributionSequenceOutput.get_scores_dicts</c> returns them:
/// for every attributed target token (keyed <c>(position, token)</c>, positions <c>attr_pos_start</c> ..
/// <c>attr_pos_end - 1</c>), its source attributions keyed by <c>(source position, token)</c>, its target
/// attributions keyed by <c>(target position, token)</c> for positions <c>0 .. attr_pos_end - 1</c>, and its step
/// scores keyed by id. Dictionaries keep Python's insertion order.
/// </summary>
/// <param name="SourceAttributions">Empty when the sequence has no source attributions.</param>
/// <param name="TargetAttributions">Empty when the sequence has no target attributions.</param>
/// <param name="StepScores">One entry per attributed target token (an empty dictionary when there are no step scores).</param>
public sealed record SequenceScoresDict(
    OrderedDictionary<TokenKey, OrderedDictionary<TokenKey, double>> SourceAttributions,
    OrderedDictionary<TokenKey, OrderedDictionary<TokenKey, double>> TargetAttributions,
    OrderedDictionary<TokenKey, OrderedDictionary<string, double>> StepScores);

/// <summary>
/// Inseq 0.6.0's <c>get_scores_dicts</c> on sequences and outputs, and its JSON form. As in Inseq, the sequence is
/// aggregated first (default aggregation unless aggregators are given; none with <c>doAggregation: false</c>), and
/// the values are the float32 scores widened to Python floats. JSON cannot key objects by tuples, so
/// <see cref="ToJson"/> writes each key as the Python <c>repr</c> of the tuple (<see cref="TokenKey.ToString"/>);
/// missing scores are written as Python writes them (<c>NaN</c>).
/// </summary>
public static class ScoresDicts
{
    /// <summary><c>FeatureAttributionSequenceOutput.get_scores_dicts(aggregator, do_aggregation)</c>.</summary>
    /// <param name="sequence">The sequence.</param>
    /// <param name="doAggregation">Aggregate first (Inseq's default: true).</param>
    /// <param name="aggregators">The aggregators; none for the sequence's default pipeline.</param>
    /// <exception cref="InvalidInputException">The scores are not 2-D after aggregation, or have fewer rows or
    /// columns than the tokens they are read for (Python fails there too).</exception>
    public static SequenceScoresDict GetScoresDicts(this FeatureAttributionSequenceOutput sequence, bool doAggregation = true, params IAggregator[] aggregators)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        FeatureAttributionSequenceOutput aggr = doAggregation ? sequence.Aggregate(aggregators) : sequence;
        int start = aggr.AttrPosStart;
        int end = Math.Min(aggr.AttrPosEnd, aggr.Target.Count); // Inseq clamps attr_pos_end to len(target)
        var source = new OrderedDictionary<TokenKey, OrderedDictionary<TokenKey, double>>();
        var target = new OrderedDictionary<TokenKey, OrderedDictionary<TokenKey, double>>();
        var steps = new OrderedDictionary<TokenKey, OrderedDictionary<string, double>>();
        float[]? srcValues = aggr.SourceAttributions?.ToArray(), tgtValues = aggr.TargetAttributions?.ToArray();
        var stepValues = aggr.StepScores.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
        for (int t = start; t < end; t++)
        {
            var key = new TokenKey(t, aggr.Target[t].Token);
            int column = t - start;
            if (aggr.SourceAttributions is { } src)
            {
                var scores = new OrderedDictionary<TokenKey, double>();
                for (int s = 0; s < aggr.Source.Count; s++)
                {
                    scores[new TokenKey(s, aggr.Source[s].Token)] = Item(src, srcValues!, s, column, "source_attributions");
                }

                source[key] = scores;
            }

            if (aggr.TargetAttributions is { } tgt)
            {
                var scores = new OrderedDictionary<TokenKey, double>();
                for (int p = 0; p < end; p++)
                {
                    scores[new TokenKey(p, aggr.Target[p].Token)] = Item(tgt, tgtValues!, p, column, "target_attributions");
                }

                target[key] = scores;
            }

            var stepScores = new OrderedDictionary<string, double>();
            foreach (var (id, values) in aggr.StepScores)
            {
                if (values.Rank != 1 || column >= values.Shape[0])
                {
                    throw new InvalidInputException($"Step score '{id}' has shape [{string.Join(", ", values.Shape)}]; get_scores_dicts needs one value per step.");
                }

                stepScores[id] = stepValues[id][column];
            }

            steps[key] = stepScores;
        }

        return new SequenceScoresDict(source, target, steps);
    }

    /// <summary><c>FeatureAttributionOutput.get_scores_dicts(...)</c>: one dictionary per sequence.</summary>
    /// <param name="output">The output.</param>
    /// <param name="doAggregation">Aggregate first (Inseq's default: true).</param>
    /// <param name="aggregators">The aggregators; none for each sequence's default pipeline.</param>
    public static IReadOnlyList<SequenceScoresDict> GetScoresDicts(this FeatureAttributionOutput output, bool doAggregation = true, params IAggregator[] aggregators)
    {
        ArgumentNullException.ThrowIfNull(output);
        return output.SequenceAttributions.Select(s => s.GetScoresDicts(doAggregation, aggregators)).ToList();
    }

    /// <summary>The JSON text of a list of score dictionaries: <c>[{"source_attributions": {"(1, 'a')": {"(0, 'b')":
    /// 0.5, ...}}, "target_attributions": {...}, "step_scores": {"(1, 'a')": {"probability": 0.9}}}, ...]</c>,
    /// written like Python's <c>json.dumps(..., indent=4)</c> of the dictionaries with <c>str</c> keys.</summary>
    public static string ToJson(IReadOnlyList<SequenceScoresDict> dicts)
    {
        ArgumentNullException.ThrowIfNull(dicts);
        var list = new JsonArray();
        foreach (SequenceScoresDict d in dicts)
        {
            list.Add(new JsonObject
            {
                ["source_attributions"] = Nested(d.SourceAttributions, k => k.ToString()),
                ["target_attributions"] = Nested(d.TargetAttributions, k => k.ToString()),
                ["step_scores"] = Nested(d.StepScores, k => k),
            });
        }

        return PythonJsonWriter.Write(list, sortKeys: false);
    }

    /// <summary>Python's <c>repr</c> of a string: single quotes unless the text holds a single quote and no double
    /// quote; backslashes, the quote, and non-printable characters escaped.</summary>
    public static string PythonRepr(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        char quote = text.Contains('\'', StringComparison.Ordinal) && !text.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        var sb = new StringBuilder().Append(quote);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == quote || c == '\\')
            {
                sb.Append('\\').Append(c);
            }
            else if (c == '\n')
            {
                sb.Append("\\n");
            }
            else if (c == '\r')
            {
                sb.Append("\\r");
            }
            else if (c == '\t')
            {
                sb.Append("\\t");
            }
            else if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                int codePoint = char.ConvertToUtf32(c, text[i + 1]);
                if (IsPrintable(CharUnicodeInfo.GetUnicodeCategory(codePoint)))
                {
                    sb.Append(c).Append(text[i + 1]);
                }
                else
                {
                    sb.Append(CultureInfo.InvariantCulture, $"\\U{codePoint:x8}");
                }

                i++;
            }
            else if (c == ' ' || IsPrintable(CharUnicodeInfo.GetUnicodeCategory(c)))
            {
                sb.Append(c);
            }
            else if (c < 0x100)
            {
                sb.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
            }
            else
            {
                sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
        }

        return sb.Append(quote).ToString();
    }

    // Python's str.isprintable: everything except "Other" and "Separator" categories (the space excepted).
    private static bool IsPrintable(UnicodeCategory category) => category is not (
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
        or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
        or UnicodeCategory.SpaceSeparator);

    private static double Item(NdArray scores, float[] values, int row, int column, string name)
    {
        if (scores.Rank != 2)
        {
            throw new InvalidInputException(
                $"{name} has shape [{string.Join(", ", scores.Shape)}]: get_scores_dicts needs 2-D scores (aggregate first).");
        }

        if (row >= scores.Shape[0] || column >= scores.Shape[1])
        {
            throw new InvalidInputException(
                $"{name} has shape [{string.Join(", ", scores.Shape)}]; index [{row}, {column}] is out of range.");
        }

        return values[(row * scores.Shape[1]) + column];
    }

    private static JsonObject Nested<TKey, TInner>(OrderedDictionary<TKey, OrderedDictionary<TInner, double>> outer, Func<TInner, string> innerKey)
        where TKey : notnull
        where TInner : notnull
    {
        var result = new JsonObject();
        foreach (var (key, inner) in outer)
        {
            var values = new JsonObject();
            foreach (var (k, v) in inner)
            {
                values[innerKey(k)] = JsonValue.Create(v);
            }

            result[key.ToString()!] = values;
        }

        return result;
    }
}
