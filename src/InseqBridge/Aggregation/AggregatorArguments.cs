using System.Text.Json;
using System.Text.Json.Nodes;
using InseqBridge.Data;
using InseqBridge.Errors;

namespace InseqBridge.Aggregation;

/// <summary>
/// Builds an aggregator pipeline from Inseq's ids and one shared keyword-argument object, as
/// <c>out.aggregate(aggregator=[...], aggregate_fn=[...], **kwargs)</c> passes the same kwargs to every aggregator and
/// each takes the names it knows:
/// <list type="bullet">
/// <item><c>scores</c>: <c>normalize</c>, <c>rescale</c> (booleans), <c>select_idx</c> (an index or a list of indices);</item>
/// <item><c>spans</c>: <c>source_spans</c>, <c>target_spans</c> (<c>[start, end]</c> or a list of them, end exclusive);</item>
/// <item><c>split</c>: <c>split_pattern</c> (a regular expression, required), <c>split_mode</c> (single, start, end),
/// <c>aggregate_source</c>, <c>aggregate_target</c>;</item>
/// <item><c>subwords</c>: <c>special_chars</c> (a string or a list), <c>is_suffix_symbol</c>, <c>aggregate_source</c>,
/// <c>aggregate_target</c>;</item>
/// <item><c>slices</c>: <c>source_spans</c>, <c>target_spans</c> (one <c>[start, end]</c> each, or "start:end");</item>
/// <item><c>pair</c>: <c>paired_attr</c> (the path of a saved output holding one sequence; the aggregators before
/// <c>pair</c> in the pipeline are applied to it too, so both sides have the same shapes).</item>
/// </list>
/// Aggregation functions (<c>aggregate_fn</c>) come one per aggregator from <c>functions</c>, as
/// <see cref="AggregatorPipeline.Parse"/> takes them.
/// </summary>
public static class AggregatorArguments
{
    private static readonly Dictionary<string, string[]> Names = new(StringComparer.Ordinal)
    {
        ["scores"] = ["normalize", "rescale", "select_idx"],
        ["spans"] = ["source_spans", "target_spans"],
        ["split"] = ["split_pattern", "split_mode", "aggregate_source", "aggregate_target"],
        ["subwords"] = ["special_chars", "is_suffix_symbol", "aggregate_source", "aggregate_target"],
        ["slices"] = ["source_spans", "target_spans"],
        ["pair"] = ["paired_attr"],
    };

    /// <summary>The argument names each aggregator id takes.</summary>
    public static IReadOnlyDictionary<string, string[]> ArgumentNames => Names;

    /// <summary>The pipeline for <paramref name="ids"/> with <paramref name="arguments"/> routed by name.</summary>
    /// <param name="ids">Aggregator or aggregation function ids, applied in order.</param>
    /// <param name="functions">Aggregation function per aggregator, or null.</param>
    /// <param name="arguments">Inseq's keyword arguments of <c>aggregate</c>, or null for none.</param>
    /// <param name="loadPaired">Reads the output that <c>paired_attr</c> names (default: <see cref="FeatureAttributionOutput.Load(string)"/>).</param>
    /// <exception cref="InvalidRequestException">An unknown id or argument, a value of the wrong type, or a missing
    /// required argument; the message names it.</exception>
    public static IAggregator[] Parse(
        IReadOnlyList<string> ids, IReadOnlyList<string>? functions, JsonObject? arguments, Func<string, FeatureAttributionOutput>? loadPaired = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        arguments ??= [];
        var aggregatorIds = ids.Where(Names.ContainsKey).ToList();
        string? unknown = arguments.Select(kv => kv.Key).FirstOrDefault(k => !aggregatorIds.Any(id => Names[id].Contains(k)));
        if (unknown is not null)
        {
            string taken = string.Join("; ", Names.Select(kv => $"{kv.Key}: {string.Join(", ", kv.Value)}"));
            throw new InvalidRequestException(unknown == "aggregate_fn"
                ? "aggregate_fn is given per aggregator with --aggregate-fn, not in the aggregator arguments."
                : $"aggregator argument '{unknown}' is taken by no aggregator of the pipeline ({string.Join(", ", ids)}); arguments by aggregator: {taken}.");
        }

        if (functions is not null && functions.Count != ids.Count)
        {
            throw new InvalidRequestException($"{functions.Count} aggregation functions for {ids.Count} aggregators: give one per aggregator.");
        }

        // Ids without arguments keep their meaning; the ones that need arguments are built here.
        var pipeline = new IAggregator[ids.Count];
        for (int i = 0; i < ids.Count; i++)
        {
            string? fnId = functions?[i];
            AggregationFunction? fn = fnId is null || !Names.ContainsKey(ids[i]) ? null : ((ScoresAggregator)AggregatorPipeline.Parse(["scores"], [fnId])[0]).Fn;

            pipeline[i] = ids[i] switch
            {
                "scores" => new ScoresAggregator(
                    fn,
                    SelectIndex: arguments["select_idx"] is JsonValue ? Int(arguments, "select_idx", "scores") : null,
                    SelectIndices: arguments["select_idx"] is JsonArray ? Ints(arguments["select_idx"]!, "select_idx") : null,
                    Normalize: Bool(arguments, "normalize") ?? !(Bool(arguments, "rescale") ?? false),
                    Rescale: Bool(arguments, "rescale") ?? false),
                "spans" => new SpansAggregator(Spans(arguments, "source_spans"), Spans(arguments, "target_spans"), fn),
                "split" => new StringSplitAggregator(
                    Pattern(arguments),
                    Mode(arguments),
                    Bool(arguments, "aggregate_source") ?? true,
                    Bool(arguments, "aggregate_target") ?? true,
                    fn),
                "subwords" => new SubwordAggregator(
                    arguments["special_chars"] is JsonArray chars ? [.. chars.Select(c => StringValue(c, "special_chars"))] : Text(arguments, "special_chars") is string c1 ? [c1] : null,
                    Bool(arguments, "is_suffix_symbol") ?? false,
                    Bool(arguments, "aggregate_source") ?? true,
                    Bool(arguments, "aggregate_target") ?? true,
                    fn),
                "slices" => Slices(arguments),
                "pair" => Pair(arguments, pipeline.Take(i).ToArray(), loadPaired ?? FeatureAttributionOutput.Load),
                _ => AggregatorPipeline.Parse([ids[i]], fnId is null ? null : [fnId])[0],
            };
        }

        if (Bool(arguments, "normalize") == true && Bool(arguments, "rescale") == true)
        {
            throw new InvalidRequestException("normalize and rescale are both true; give one of them (as Inseq refuses both).");
        }

        return pipeline;
    }

    /// <summary>Sets <c>normalize</c> / <c>rescale</c> on every <c>scores</c> step of <paramref name="pipeline"/>
    /// (the kind's default pipeline when empty), as Inseq's <c>aggregate(normalize=..., rescale=...)</c> reaches
    /// every aggregator.</summary>
    /// <param name="pipeline">The pipeline; empty for the default one.</param>
    /// <param name="sequence">The sequence the default pipeline is chosen for.</param>
    /// <param name="normalize">Normalise each step column to sum 1 in absolute value.</param>
    /// <param name="rescale">Divide by the largest absolute value instead (Inseq 0.7).</param>
    /// <exception cref="InvalidRequestException">Both are true.</exception>
    public static IAggregator[] WithScaling(IReadOnlyList<IAggregator> pipeline, FeatureAttributionSequenceOutput sequence, bool normalize, bool rescale)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(sequence);
        if (normalize && rescale)
        {
            throw new InvalidRequestException("Normalize and rescale are exclusive; give one of them.");
        }

        IReadOnlyList<IAggregator> steps = pipeline.Count > 0 ? pipeline : DefaultAggregation.For(sequence);
        return [.. steps.Select(a => a is ScoresAggregator s ? s with { Normalize = !rescale, Rescale = rescale } : a)];
    }

    private static SliceAggregator Slices(JsonObject arguments) =>
        new(OneSpan(arguments, "source_spans"), OneSpan(arguments, "target_spans"));

    private static IAggregator Pair(JsonObject arguments, IAggregator[] before, Func<string, FeatureAttributionOutput> load)
    {
        string path = Text(arguments, "paired_attr")
            ?? throw new InvalidRequestException("Aggregator 'pair' needs paired_attr, the path of a saved output to compare with, e.g. {\"paired_attr\": \"other.json\"}.");
        FeatureAttributionOutput paired = load(path);
        if (paired.SequenceAttributions.Count != 1)
        {
            throw new InvalidRequestException($"paired_attr {path} holds {paired.SequenceAttributions.Count} sequences; save the paired attribution of one input.");
        }

        FeatureAttributionSequenceOutput other = paired.SequenceAttributions[0];
        return new PairWithFile(new PairAggregator(before.Length > 0 ? other.Aggregate(before) : other), path);
    }

    /// <summary><see cref="PairAggregator"/> whose shape mismatch names the file (a user error, not a bug).</summary>
    private sealed record PairWithFile(PairAggregator Inner, string Path) : IAggregator
    {
        public string Id => Inner.Id;

        public FeatureAttributionSequenceOutput Aggregate(FeatureAttributionSequenceOutput sequence)
        {
            try
            {
                return Inner.Aggregate(sequence);
            }
            catch (ArgumentException e)
            {
                throw new InvalidRequestException($"paired_attr {Path} does not match this attribution ({e.Message.TrimEnd('.')}); pair outputs of the same model and lengths.");
            }
        }
    }

    private static (int Start, int End)? OneSpan(JsonObject arguments, string key)
    {
        JsonNode? node = arguments[key];
        if (node is null)
        {
            return null;
        }

        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            string text = v.GetValue<string>();
            string[] parts = text.Split(':');
            return parts.Length == 2 && int.TryParse(parts[0], out int a) && int.TryParse(parts[1], out int b) && a >= 0 && b > a
                ? (a, b)
                : throw new InvalidRequestException($"{key} must be [start, end] or \"start:end\" with 0 <= start < end (got \"{text}\").");
        }

        var spans = Spans(arguments, key)!;
        return spans.Count == 1 ? spans[0] : throw new InvalidRequestException($"slices takes one {key} span [start, end] (got {spans.Count}).");
    }

    private static IReadOnlyList<(int Start, int End)>? Spans(JsonObject arguments, string key)
    {
        JsonNode? node = arguments[key];
        if (node is null)
        {
            return null;
        }

        string rule = $"{key} must be [start, end] or a list of [start, end] with 0 <= start < end (got {node.ToJsonString()}).";
        if (node is not JsonArray array || array.Count == 0)
        {
            throw new InvalidRequestException(rule);
        }

        IEnumerable<JsonNode?> items = array.All(x => x is JsonValue) ? [array] : array;
        var spans = new List<(int, int)>();
        foreach (JsonNode? item in items)
        {
            if (item is not JsonArray pair || pair.Count != 2)
            {
                throw new InvalidRequestException(rule);
            }

            int[] ends = Ints(pair, key, rule);
            if (ends[0] < 0 || ends[1] <= ends[0])
            {
                throw new InvalidRequestException(rule);
            }

            spans.Add((ends[0], ends[1]));
        }

        return spans;
    }

    private static int[] Ints(JsonNode node, string key, string? rule = null)
    {
        rule ??= $"{key} must be an integer or a list of integers (got {node.ToJsonString()}).";
        if (node is not JsonArray array)
        {
            throw new InvalidRequestException(rule);
        }

        try
        {
            return [.. array.Select(x => x!.GetValue<int>())];
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or NullReferenceException)
        {
            throw new InvalidRequestException(rule);
        }
    }

    private static int? Int(JsonObject arguments, string key, string owner)
    {
        try
        {
            return arguments[key]?.GetValue<int>();
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new InvalidRequestException($"{key} ({owner}) must be an integer (got {arguments[key]!.ToJsonString()}).");
        }
    }

    private static bool? Bool(JsonObject arguments, string key)
    {
        try
        {
            return arguments[key]?.GetValue<bool>();
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new InvalidRequestException($"{key} must be true or false (got {arguments[key]!.ToJsonString()}).");
        }
    }

    private static string? Text(JsonObject arguments, string key) => arguments[key] is JsonNode node ? StringValue(node, key) : null;

    private static string StringValue(JsonNode? node, string key) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.String
            ? v.GetValue<string>()
            : throw new InvalidRequestException($"{key} must be a string (got {node?.ToJsonString() ?? "null"}).");

    private static string Pattern(JsonObject arguments)
    {
        string pattern = Text(arguments, "split_pattern")
            ?? throw new InvalidRequestException("Aggregator 'split' needs split_pattern, a regular expression for separator tokens, e.g. {\"split_pattern\": \"^\\\\.$\"}.");
        try
        {
            _ = new System.Text.RegularExpressions.Regex(pattern, System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        }
        catch (ArgumentException)
        {
            throw new InvalidRequestException($"split_pattern \"{pattern}\" is not a valid regular expression.");
        }

        return pattern;
    }

    private static SplitMode Mode(JsonObject arguments) => Text(arguments, "split_mode") switch
    {
        null or "single" => SplitMode.Single,
        "start" => SplitMode.Start,
        "end" => SplitMode.End,
        var other => throw new InvalidRequestException($"split_mode must be single, start or end (got \"{other}\")."),
    };
}
