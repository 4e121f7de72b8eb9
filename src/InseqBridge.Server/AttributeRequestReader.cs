using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using InseqBridge.Attribution;

namespace InseqBridge.Server;

/// <summary>
/// Reads the body of <c>POST /v1/attribute</c> into the model NAME and an <see cref="AttributeCall"/> (the same call
/// type the CLI builds from its flags), with errors that name the field and the fix.
/// </summary>
public static class AttributeRequestReader
{
    /// <summary>The accepted body fields (Inseq's <c>model.attribute</c> names plus model, method, aggregate, seed, mode).</summary>
    public static IReadOnlyList<string> Fields { get; } =
    [
        "model", "method", "input_texts", "generated_texts", "step_scores", "attributed_fn", "attribution_args",
        "step_scores_args", "attributed_fn_args", "attr_pos_start", "attr_pos_end", "attribute_target", "max_new_tokens",
        "include_eos_baseline", "batch_size", "contrast_targets", "contrast_sources", "contrast_targets_alignments",
        "contrast_force_inputs", "skip_special_tokens", "clean_special_chars", "generate_from_target_prefix", "aggregate",
        "seed", "mode",
    ];

    /// <summary>Method arguments that name a file on the server: a request may not use them.</summary>
    private static readonly HashSet<string> PathArguments = ["pos_tag_map"];

    private static readonly string[] ListFields = ["input_texts", "generated_texts", "step_scores", "contrast_targets", "contrast_sources"];

    /// <summary>Parses <paramref name="body"/> (UTF-8 JSON).</summary>
    /// <exception cref="ProblemException">400: not JSON, not an object, an unknown field, a wrong type, a missing field.</exception>
    public static (string Model, AttributeCall Call) Read(ReadOnlySpan<byte> body)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(body, documentOptions: new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw ProblemException.BadRequest(
                $"The body is not valid JSON (line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1}): send an object such as {{\"model\": \"NAME\", \"input_texts\": [\"text\"]}}.");
        }

        if (node is not JsonObject obj)
        {
            throw ProblemException.BadRequest("The body must be a JSON object such as {\"model\": \"NAME\", \"input_texts\": [\"text\"]}.");
        }

        string? unknown = obj.Select(kv => kv.Key).FirstOrDefault(k => !Fields.Contains(k));
        if (unknown is not null)
        {
            throw ProblemException.BadRequest($"Unknown field '{unknown}'. Accepted fields: {string.Join(", ", Fields)}.");
        }

        foreach (string field in ListFields)
        {
            // Inseq accepts one text where it takes a list.
            if (obj[field] is JsonValue single && single.GetValueKind() == JsonValueKind.String)
            {
                obj[field] = new JsonArray(single.GetValue<string>());
            }
        }

        AttributeRequestBody body2;
        try
        {
            body2 = obj.Deserialize(ServerJson.Context.AttributeRequestBody)!;
        }
        catch (JsonException e)
        {
            string field = (e.Path ?? "$").TrimStart('$', '.').Split('.', '[')[0];
            throw ProblemException.BadRequest($"Field '{field}' has the wrong type: {Expected(field)}.");
        }

        if (string.IsNullOrEmpty(body2.Model))
        {
            throw ProblemException.BadRequest("Field 'model' is required: a configured model NAME (GET /v1/models lists them).");
        }

        if (body2.InputTexts is not { Count: > 0 })
        {
            throw ProblemException.BadRequest("Field 'input_texts' is required: a list of at least one text.");
        }

        var attributionArgs = Arguments(body2.AttributionArgs, "attribution_args");
        string? pathArgument = attributionArgs.Keys.FirstOrDefault(PathArguments.Contains);
        if (pathArgument is not null)
        {
            throw ProblemException.BadRequest(
                $"attribution_args: '{pathArgument}' names a file, and requests to the server cannot name files; configure the server with what you need instead.");
        }

        ExecutionMode mode = body2.Mode switch
        {
            null or "fast" => ExecutionMode.Fast,
            "reference" => ExecutionMode.Reference,
            _ => throw ProblemException.BadRequest($"Field 'mode' must be \"fast\" or \"reference\" (got \"{body2.Mode}\")."),
        };
        var call = new AttributeCall
        {
            Method = body2.Method ?? "saliency",
            InputTexts = body2.InputTexts,
            GeneratedTexts = body2.GeneratedTexts,
            StepScores = body2.StepScores ?? [],
            AttributedFn = body2.AttributedFn,
            AttributionArgs = attributionArgs,
            StepScoresArgs = Arguments(body2.StepScoresArgs, "step_scores_args"),
            AttributedFnArgs = Arguments(body2.AttributedFnArgs, "attributed_fn_args"),
            AttrPosStart = body2.AttrPosStart,
            AttrPosEnd = body2.AttrPosEnd,
            AttributeTarget = body2.AttributeTarget ?? false,
            MaxNewTokens = body2.MaxNewTokens,
            IncludeEosBaseline = body2.IncludeEosBaseline ?? false,
            BatchSize = body2.BatchSize,
            ContrastTargets = body2.ContrastTargets,
            ContrastSources = body2.ContrastSources,
            ContrastTargetsAlignments = body2.ContrastTargetsAlignments is { } al
                ? al.ValueKind == JsonValueKind.String ? al.GetString() : al.GetRawText()
                : null,
            ContrastForceInputs = body2.ContrastForceInputs ?? false,
            SkipSpecialTokens = body2.SkipSpecialTokens ?? false,
            CleanSpecialChars = body2.CleanSpecialChars ?? false,
            GenerateFromTargetPrefix = body2.GenerateFromTargetPrefix ?? false,
            Aggregate = body2.Aggregate ?? false,
            Seed = body2.Seed ?? 0,
            Mode = mode,
        };
        return (body2.Model, call);
    }

    /// <summary>An argument object as the K=V text the method and step function parsers read.</summary>
    private static Dictionary<string, string> Arguments(Dictionary<string, JsonElement>? values, string field)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in values ?? [])
        {
            result[key] = value.ValueKind switch
            {
                JsonValueKind.String => value.GetString()!,
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                JsonValueKind.Number => value.GetRawText(),
                JsonValueKind.Array => value.GetRawText(),
                _ => throw ProblemException.BadRequest($"{field}: '{key}' must be a string, number, boolean or list (got {value.ValueKind.ToString().ToLowerInvariant()})."),
            };
        }

        return result;
    }

    private static string Expected(string field) => field switch
    {
        "model" or "method" or "attributed_fn" or "mode" => "expected a string",
        "input_texts" or "generated_texts" or "step_scores" or "contrast_targets" or "contrast_sources" => "expected a list of strings (or one string)",
        "attribution_args" or "step_scores_args" or "attributed_fn_args" => "expected an object of name: value",
        "attr_pos_start" or "attr_pos_end" or "max_new_tokens" or "batch_size" => "expected an integer",
        "seed" => "expected an integer",
        "attribute_target" or "include_eos_baseline" or "contrast_force_inputs" or "skip_special_tokens" or "clean_special_chars"
            or "generate_from_target_prefix" or "aggregate" => "expected true or false",
        _ => string.Create(CultureInfo.InvariantCulture, $"see the OpenAPI document"),
    };
}
