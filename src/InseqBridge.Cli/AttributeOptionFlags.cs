using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using InseqBridge.Aggregation;
using InseqBridge.Attribution;

namespace InseqBridge.Cli;

/// <summary>
/// The attribute options of Inseq 0.7 (<c>--skip-special-tokens</c>, <c>--clean-special-chars</c>,
/// <c>--generate-from-target-prefix</c>) and the aggregation arguments (<c>--aggregator-args</c>,
/// <c>--normalize-attributions</c>, <c>--rescale-attributions</c>), registered with the other attribution flags by
/// <see cref="AttributionOptions"/>.
/// </summary>
public sealed class AttributeOptionFlags
{
    /// <summary><c>--skip-special-tokens</c>.</summary>
    public Option<bool> SkipSpecialTokens { get; } = new("--skip-special-tokens")
    {
        Description = "Inseq 0.7's skip_special_tokens: remove the tokenizer's special tokens from the texts and tokenize without them (no BOS/EOS attributed).",
    };

    /// <summary><c>--clean-special-chars</c>.</summary>
    public Option<bool> CleanSpecialChars { get; } = new("--clean-special-chars")
    {
        Description = "Inseq 0.7's clean_special_chars: show tokens as text (\"▁The\" -> \"The\", \"Ġcursor\" -> \" cursor\").",
    };

    /// <summary><c>--generate-from-target-prefix</c>.</summary>
    public Option<bool> GenerateFromTargetPrefix { get; } = new("--generate-from-target-prefix")
    {
        Description = "Encoder-decoders: --generated texts are prefixes that generation continues (Inseq's generate_from_target_prefix); without them it has no effect.",
    };

    /// <summary><c>--aggregator-args JSON</c>.</summary>
    public Option<string?> AggregatorArgs { get; } = new("--aggregator-args")
    {
        Description = "Arguments of the --aggregator pipeline as one JSON object, as Inseq's aggregate(**kwargs) takes them; each aggregator takes its names: "
            + "spans: source_spans, target_spans ([start,end] or a list); split: split_pattern, split_mode (single|start|end), aggregate_source, aggregate_target; "
            + "subwords: special_chars, is_suffix_symbol, aggregate_source, aggregate_target; slices: source_spans, target_spans ([start,end] or \"start:end\"); "
            + "pair: paired_attr (a saved output of one sequence); scores: select_idx, normalize, rescale. "
            + "E.g. --aggregator scores,spans --aggregator-args '{\"target_spans\": [[1,3]]}'.",
        HelpName = "JSON",
    };

    /// <summary><c>--normalize-attributions</c>.</summary>
    public Option<bool> NormalizeAttributions { get; } = new("--normalize-attributions")
    {
        Description = "Scores aggregation normalises each step's scores to sum 1 in absolute value (the default of aggregate(); implies --aggregate).",
    };

    /// <summary><c>--rescale-attributions</c>.</summary>
    public Option<bool> RescaleAttributions { get; } = new("--rescale-attributions")
    {
        Description = "Scores aggregation divides by the largest absolute score instead of normalising (Inseq 0.7's rescale; implies --aggregate).",
    };

    /// <summary>The options, in help order.</summary>
    public IEnumerable<Option> All => [SkipSpecialTokens, CleanSpecialChars, GenerateFromTargetPrefix, AggregatorArgs, NormalizeAttributions, RescaleAttributions];

    /// <summary><paramref name="request"/> with the attribute options of the command line.</summary>
    /// <param name="parseResult">The parsed command line.</param>
    /// <param name="request">The request built from the other flags.</param>
    public AttributionRequest Apply(ParseResult parseResult, AttributionRequest request)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        ArgumentNullException.ThrowIfNull(request);
        return request with
        {
            SkipSpecialTokens = parseResult.GetValue(SkipSpecialTokens),
            CleanSpecialChars = parseResult.GetValue(CleanSpecialChars),
            GenerateFromTargetPrefix = parseResult.GetValue(GenerateFromTargetPrefix),
        };
    }

    /// <summary>
    /// The aggregation of <paramref name="call"/> (its <c>--aggregator</c> ids and <c>--aggregate-fn</c> functions)
    /// with <c>--aggregator-args</c>, <c>--normalize-attributions</c> and <c>--rescale-attributions</c>: null for
    /// none, an empty array for the default pipeline.
    /// </summary>
    /// <param name="parseResult">The parsed command line.</param>
    /// <param name="call">The call of the other flags.</param>
    /// <exception cref="CliUsageException">Arguments that are not a JSON object, arguments without
    /// <c>--aggregator</c>, or both scaling flags.</exception>
    public IAggregator[]? CreateAggregation(ParseResult parseResult, AttributeCall call)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        ArgumentNullException.ThrowIfNull(call);
        bool normalize = parseResult.GetValue(NormalizeAttributions);
        bool rescale = parseResult.GetValue(RescaleAttributions);
        if (normalize && rescale)
        {
            throw new CliUsageException("--normalize-attributions and --rescale-attributions exclude each other; give one of them.");
        }

        JsonObject? arguments = ParseArguments(parseResult.GetValue(AggregatorArgs));
        if (arguments is not null && call.Aggregators is null)
        {
            throw new CliUsageException("--aggregator-args needs --aggregator (the aggregators that take them).");
        }

        IAggregator[]? pipeline = call.Aggregators is null
            ? call.CreateAggregation()
            : AggregatorArguments.Parse(call.Aggregators, call.AggregateFunctions, arguments);
        if (!normalize && !rescale)
        {
            return pipeline;
        }

        return [new ScaledAggregation(pipeline ?? [], Normalize: !rescale, Rescale: rescale)];
    }

    private static JsonObject? ParseArguments(string? text)
    {
        if (text is null)
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = 16 }) as JsonObject
                ?? throw new CliUsageException("--aggregator-args must be a JSON object, e.g. '{\"target_spans\": [[1, 3]]}'.");
        }
        catch (JsonException)
        {
            throw new CliUsageException("--aggregator-args is not valid JSON; give an object such as '{\"target_spans\": [[1, 3]]}'.");
        }
    }
}
