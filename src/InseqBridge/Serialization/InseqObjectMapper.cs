using System.Text.Json.Nodes;
using InseqBridge.Data;

namespace InseqBridge.Serialization;

/// <summary>Maps between the json-tricks object tree Inseq writes (<c>{"__instance_type__": [module, class],
/// "attributes": {...}}</c>) and the typed result schema.</summary>
internal static class InseqObjectMapper
{
    private const string AttributionModule = "inseq.data.attribution";
    private const string TypingModule = "inseq.utils.typing";

    public static FeatureAttributionOutput ToOutput(JsonNode? root, string? file) => ToOutput(root, file, InseqReadLimits.Default);

    public static FeatureAttributionOutput ToOutput(JsonNode? root, string? file, InseqReadLimits limits)
    {
        JsonObject attributes = Attributes(root, "FeatureAttributionOutput", file, "$", out _);
        var info = attributes["info"] switch
        {
            null => new JsonObject(),
            JsonObject o => (JsonObject)o.DeepClone(),
            _ => throw new InseqJsonException(file, "$.attributes.info", "expected an object"),
        };
        if (attributes["sequence_attributions"] is not JsonArray sequences)
        {
            throw new InseqJsonException(file, "$.attributes.sequence_attributions", "expected a list");
        }

        var parsed = new List<FeatureAttributionSequenceOutput>();
        for (int i = 0; i < sequences.Count; i++)
        {
            parsed.Add(ToSequence(sequences[i], file, $"$.attributes.sequence_attributions[{i}]", limits));
        }

        return new FeatureAttributionOutput
        {
            SequenceAttributions = parsed,
            Info = info,
            StepAttributions = attributes["step_attributions"] switch
            {
                null => null,
                JsonArray steps => steps.Select((n, i) => ToStep(n, file, $"$.attributes.step_attributions[{i}]", limits)).ToList(),
                _ => throw new InseqJsonException(file, "$.attributes.step_attributions", "expected a list"),
            },
        };
    }

    public static JsonObject FromOutput(FeatureAttributionOutput output, SaveOptions options, bool dropStepAttributions)
    {
        var sequences = new JsonArray(output.SequenceAttributions.Select(s => (JsonNode)FromSequence(s, options)).ToArray());
        return Instance(AttributionModule, "FeatureAttributionOutput", new JsonObject
        {
            ["info"] = output.Info.DeepClone(),
            ["sequence_attributions"] = sequences,
            ["step_attributions"] = dropStepAttributions || output.StepAttributions is null
                ? null
                : new JsonArray(output.StepAttributions.Select(s => (JsonNode)FromStep(s, options)).ToArray()),
        });
    }

    private const string SequenceSuffix = "FeatureAttributionSequenceOutput";
    private const string StepSuffix = "FeatureAttributionStepOutput";

    /// <summary>Inseq's class name for a sequence output of the given kind.</summary>
    public static string ClassName(AttributionKind kind) => ClassName(kind, SequenceSuffix);

    /// <summary>Inseq's class prefix of each kind ("Granular", "Coarse", "MultiDimensional", none) plus the suffix.</summary>
    private static string ClassName(AttributionKind kind, string suffix) => kind switch
    {
        AttributionKind.Granular => "Granular" + suffix,
        AttributionKind.Coarse => "Coarse" + suffix,
        AttributionKind.MultiDimensional => "MultiDimensional" + suffix,
        _ => suffix,
    };

    private static AttributionKind? KindOf(string className, string suffix) =>
        Enum.GetValues<AttributionKind>().Cast<AttributionKind?>().FirstOrDefault(k => ClassName(k!.Value, suffix) == className);

    private static FeatureAttributionSequenceOutput ToSequence(JsonNode? node, string? file, string path, InseqReadLimits limits)
    {
        JsonObject a = Attributes(node, null, file, path, out string className);
        AttributionKind kind = KindOf(className, SequenceSuffix)
            ?? throw new InseqJsonException(file, $"{path}.__instance_type__", $"unknown sequence output class '{className}'");
        string ap = $"{path}.attributes";
        List<TokenWithId> source = Tokens(a["source"], file, $"{ap}.source");
        List<TokenWithId> target = Tokens(a["target"], file, $"{ap}.target");
        int start = Int(a["attr_pos_start"], 0, file, $"{ap}.attr_pos_start");
        int end = Int(a["attr_pos_end"], target.Count, file, $"{ap}.attr_pos_end");
        if (start < 0 || end < start || end > target.Count)
        {
            throw new InseqJsonException(file, $"{ap}.attr_pos_start", $"attributed positions {start}..{end} do not fit the {target.Count} target tokens");
        }

        int steps = end - start;

        // Declared shapes are checked against the tokens before any tensor data is decoded or decompressed.
        string? Fits(int[] shape, int tokens, bool exactRows) =>
            shape.Length >= 2 && (exactRows ? shape[0] == tokens : shape[0] <= tokens) && shape[1] == steps
                ? null
                : $"shape [{string.Join(", ", shape)}] does not fit {tokens} tokens and {steps} attributed steps";
        NdArray? sourceAttr = a["source_attributions"] is { } sn
            ? TensorCodec.Decode(sn, file, $"{ap}.source_attributions", limits, shape => Fits(shape, source.Count, exactRows: true))
            : null;
        NdArray? targetAttr = a["target_attributions"] is { } tn
            ? TensorCodec.Decode(tn, file, $"{ap}.target_attributions", limits, shape => Fits(shape, target.Count, exactRows: false))
            : null;
        var stepScores = ScoreDict(a["step_scores"], file, $"{ap}.step_scores", limits, steps);
        var sequenceScores = ScoreDict(a["sequence_scores"], file, $"{ap}.sequence_scores", limits, null);

        if (sourceAttr is not null)
        {
            CheckAttributionShape(sourceAttr, source.Count, exactRows: true, steps, file, $"{ap}.source_attributions");
        }

        if (targetAttr is not null)
        {
            CheckAttributionShape(targetAttr, target.Count, exactRows: false, steps, file, $"{ap}.target_attributions");
        }

        foreach (var (name, score) in stepScores)
        {
            if (score.Rank < 1 || score.Shape[0] != steps)
            {
                throw new InseqJsonException(file, $"{ap}.step_scores.{name}", $"expected {steps} steps, got shape [{string.Join(", ", score.Shape)}]");
            }
        }

        int? numDimensions = kind == AttributionKind.MultiDimensional
            ? Math.Max(0, (sourceAttr ?? targetAttr)?.Rank - 2 ?? 0)
            : null;
        return new FeatureAttributionSequenceOutput
        {
            Source = source,
            Target = target,
            SourceAttributions = sourceAttr,
            TargetAttributions = targetAttr,
            StepScores = stepScores,
            SequenceScores = sequenceScores,
            AttrPosStart = start,
            AttrPosEnd = end,
            Kind = kind,
            NumDimensions = numDimensions,
        };
    }

    private static FeatureAttributionStepOutput ToStep(JsonNode? node, string? file, string path, InseqReadLimits limits)
    {
        JsonObject a = Attributes(node, null, file, path, out string className);
        AttributionKind kind = KindOf(className, StepSuffix)
            ?? throw new InseqJsonException(file, $"{path}.__instance_type__", $"unknown step output class '{className}'");
        string ap = $"{path}.attributes";
        List<IReadOnlyList<TokenWithId>>? Rows(string key) => a[key] switch
        {
            null => null,
            JsonArray rows => rows.Select((r, i) => (IReadOnlyList<TokenWithId>)Tokens(r, file, $"{ap}.{key}[{i}]")).ToList(),
            _ => throw new InseqJsonException(file, $"{ap}.{key}", "expected a list of token lists"),
        };
        return new FeatureAttributionStepOutput
        {
            Source = Rows("source"),
            Prefix = Rows("prefix") ?? [],
            Target = Rows("target") ?? [],
            SourceAttributions = a["source_attributions"] is { } sn ? TensorCodec.Decode(sn, file, $"{ap}.source_attributions", limits, null) : null,
            TargetAttributions = a["target_attributions"] is { } tn ? TensorCodec.Decode(tn, file, $"{ap}.target_attributions", limits, null) : null,
            StepScores = ScoreDict(a["step_scores"], file, $"{ap}.step_scores", limits, null),
            SequenceScores = ScoreDict(a["sequence_scores"], file, $"{ap}.sequence_scores", limits, null),
            Kind = kind,
        };
    }

    private static JsonObject FromStep(FeatureAttributionStepOutput s, SaveOptions options)
    {
        static JsonNode? Rows(IReadOnlyList<IReadOnlyList<TokenWithId>>? rows) =>
            rows is null ? null : new JsonArray(rows.Select(r => (JsonNode)TokenList(r)).ToArray());
        return Instance(AttributionModule, ClassName(s.Kind, StepSuffix), new JsonObject
        {
            ["prefix"] = Rows(s.Prefix),
            ["sequence_scores"] = Scores(s.SequenceScores, options),
            ["source"] = Rows(s.Source),
            ["source_attributions"] = s.SourceAttributions is null ? null : TensorCodec.Encode(s.SourceAttributions, options),
            ["step_scores"] = Scores(s.StepScores, options),
            ["target"] = Rows(s.Target),
            ["target_attributions"] = s.TargetAttributions is null ? null : TensorCodec.Encode(s.TargetAttributions, options),
        });
    }

    private static void CheckAttributionShape(NdArray array, int tokens, bool exactRows, int steps, string? file, string path)
    {
        bool rowsOk = array.Rank >= 2 && (exactRows ? array.Shape[0] == tokens : array.Shape[0] <= tokens);
        if (!rowsOk || array.Shape[1] != steps)
        {
            throw new InseqJsonException(
                file,
                path,
                $"shape [{string.Join(", ", array.Shape)}] does not fit {tokens} tokens and {steps} attributed steps");
        }
    }

    private static JsonObject FromSequence(FeatureAttributionSequenceOutput s, SaveOptions options) =>
        Instance(AttributionModule, ClassName(s.Kind), new JsonObject
        {
            ["attr_pos_end"] = s.AttrPosEnd,
            ["attr_pos_start"] = s.AttrPosStart,
            ["sequence_scores"] = Scores(s.SequenceScores, options),
            ["source"] = TokenList(s.Source),
            ["source_attributions"] = s.SourceAttributions is null ? null : TensorCodec.Encode(s.SourceAttributions, options),
            ["step_scores"] = Scores(s.StepScores, options),
            ["target"] = TokenList(s.Target),
            ["target_attributions"] = s.TargetAttributions is null ? null : TensorCodec.Encode(s.TargetAttributions, options),
        });

    private static JsonObject Scores(IReadOnlyDictionary<string, NdArray> scores, SaveOptions options)
    {
        var obj = new JsonObject();
        foreach (var (name, array) in scores)
        {
            obj[name] = TensorCodec.Encode(array, options);
        }

        return obj;
    }

    private static JsonArray TokenList(IReadOnlyList<TokenWithId> tokens) =>
        new(tokens.Select(t => (JsonNode)Instance(TypingModule, "TokenWithId", new JsonObject
        {
            ["id"] = (long)t.Id,
            ["token"] = t.Token,
        })).ToArray());

    private static JsonObject Instance(string module, string className, JsonObject attributes) => new()
    {
        ["__instance_type__"] = new JsonArray(module, className),
        ["attributes"] = attributes,
    };

    private static JsonObject Attributes(JsonNode? node, string? expectedClass, string? file, string path, out string className)
    {
        if (node is not JsonObject obj || obj["__instance_type__"] is not JsonArray type || type.Count != 2
            || type[1] is not JsonValue nameNode || !nameNode.TryGetValue(out string? name))
        {
            throw new InseqJsonException(file, path, "expected an object with \"__instance_type__\": [module, class]");
        }

        className = name;
        if (expectedClass is not null && name != expectedClass)
        {
            throw new InseqJsonException(file, $"{path}.__instance_type__", $"expected class {expectedClass}, found {name}");
        }

        return obj["attributes"] as JsonObject
            ?? throw new InseqJsonException(file, $"{path}.attributes", "expected an object");
    }

    private static List<TokenWithId> Tokens(JsonNode? node, string? file, string path)
    {
        if (node is not JsonArray list)
        {
            throw new InseqJsonException(file, path, "expected a list of tokens");
        }

        var tokens = new List<TokenWithId>(list.Count);
        for (int i = 0; i < list.Count; i++)
        {
            string itemPath = $"{path}[{i}]";
            if (list[i] is JsonValue v && v.TryGetValue(out string? bare))
            {
                tokens.Add(new TokenWithId(bare, -1));
                continue;
            }

            JsonObject a = Attributes(list[i], "TokenWithId", file, itemPath, out _);
            string token = a["token"] is JsonValue tv && tv.TryGetValue(out string? t)
                ? t
                : throw new InseqJsonException(file, $"{itemPath}.attributes.token", "expected a string");
            tokens.Add(new TokenWithId(token, Int(a["id"], -1, file, $"{itemPath}.attributes.id")));
        }

        return tokens;
    }

    private static Dictionary<string, NdArray> ScoreDict(JsonNode? node, string? file, string path, InseqReadLimits limits, int? steps)
    {
        var result = new Dictionary<string, NdArray>(StringComparer.Ordinal);
        if (node is null)
        {
            return result;
        }

        if (node is not JsonObject obj)
        {
            throw new InseqJsonException(file, path, "expected an object of scores");
        }

        foreach (var (name, value) in obj)
        {
            if (value is not null)
            {
                result[name] = TensorCodec.Decode(
                    value,
                    file,
                    $"{path}.{name}",
                    limits,
                    shape => steps is null || (shape.Length >= 1 && shape[0] == steps) ? null : $"expected {steps} steps, got shape [{string.Join(", ", shape)}]");
            }
        }

        return result;
    }

    private static int Int(JsonNode? node, int fallback, string? file, string path)
    {
        if (node is null)
        {
            return fallback;
        }

        if (node is JsonValue v && v.TryGetValue(out long l) && l is >= int.MinValue and <= int.MaxValue)
        {
            return (int)l;
        }

        throw new InseqJsonException(file, path, "expected an integer");
    }
}
