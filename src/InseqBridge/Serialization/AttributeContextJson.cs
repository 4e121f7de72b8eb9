using System.Text.Json.Nodes;
using InseqBridge.Attribution.Context;
using InseqBridge.Visualization;

namespace InseqBridge.Serialization;

/// <summary>
/// The JSON file of a context attribution, as Inseq's <c>attribute-context --save_path</c> writes it
/// (<c>json.dump(output.to_dict(), f, indent=4)</c>: keys in Inseq's order, Python float formatting, NaN as
/// <c>NaN</c>), and its reader (Inseq's <c>AttributeContextOutput.from_dict</c>).
/// </summary>
public static class AttributeContextJson
{
    /// <summary>The JSON text of <paramref name="output"/>, byte for byte what Inseq writes for the same values.</summary>
    public static string Serialize(AttributeContextOutput output)
    {
        ArgumentNullException.ThrowIfNull(output);
        return PythonJsonWriter.Write(ToJson(output), sortKeys: false);
    }

    /// <summary>Writes <paramref name="output"/> to <paramref name="path"/>.</summary>
    /// <exception cref="OutputFileExistsException">The file exists and <paramref name="overwrite"/> is false.</exception>
    public static void Save(AttributeContextOutput output, string path, bool overwrite = false) =>
        OutputFile.WriteAllText(path, Serialize(output), overwrite);

    /// <summary>Reads a file written by Inseq or by <see cref="Save"/>.</summary>
    /// <exception cref="InseqJsonException">Not valid JSON, or a field has the wrong type.</exception>
    public static AttributeContextOutput Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses the JSON text of a context attribution.</summary>
    /// <exception cref="InseqJsonException">Not valid JSON, or a field has the wrong type.</exception>
    public static AttributeContextOutput Parse(string json, string? sourceName = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (PythonJsonReader.Parse(json, sourceName) is not JsonObject root)
        {
            throw new InseqJsonException(sourceName, "$", "expected an object");
        }

        try
        {
            var cci = new List<CciOutput>();
            if (root["cci_scores"] is JsonArray items)
            {
                foreach (JsonNode? item in items)
                {
                    if (item is not JsonObject c)
                    {
                        throw new InseqJsonException(sourceName, "$.cci_scores", "expected a list of objects");
                    }

                    cci.Add(new CciOutput(
                        checked((int)Number(c["cti_idx"])),
                        c["cti_token"]!.GetValue<string>(),
                        Number(c["cti_score"]),
                        c["contextual_output"]!.GetValue<string>(),
                        c["contextless_output"]?.GetValue<string>(),
                        Numbers(c["input_context_scores"]),
                        Numbers(c["output_context_scores"])));
                }
            }

            return new AttributeContextOutput
            {
                InputContext = root["input_context"]?.GetValue<string>(),
                InputContextTokens = Strings(root["input_context_tokens"]),
                OutputContext = root["output_context"]?.GetValue<string>(),
                OutputContextTokens = Strings(root["output_context_tokens"]),
                OutputCurrent = root["output_current"]?.GetValue<string>(),
                OutputCurrentTokens = Strings(root["output_current_tokens"]),
                CtiScores = Numbers(root["cti_scores"]),
                CciScores = cci,
                Info = root["info"] is JsonObject info ? (JsonObject)info.DeepClone() : null,
            };
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or NullReferenceException)
        {
            throw new InseqJsonException(sourceName, "$", $"not an attribute-context output ({e.Message})", e);
        }
    }

    /// <summary>The JSON tree of <paramref name="output"/> (Inseq's <c>to_dict()</c>).</summary>
    public static JsonObject ToJson(AttributeContextOutput output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var root = new JsonObject
        {
            ["input_context"] = output.InputContext,
            ["input_context_tokens"] = StringArray(output.InputContextTokens),
            ["output_context"] = output.OutputContext,
            ["output_context_tokens"] = StringArray(output.OutputContextTokens),
            ["output_current"] = output.OutputCurrent,
            ["output_current_tokens"] = StringArray(output.OutputCurrentTokens),
            ["cti_scores"] = NumberArray(output.CtiScores),
            ["cci_scores"] = new JsonArray(output.CciScores.Select(c => (JsonNode?)new JsonObject
            {
                ["cti_idx"] = c.CtiIdx,
                ["cti_token"] = c.CtiToken,
                ["cti_score"] = c.CtiScore,
                ["contextual_output"] = c.ContextualOutput,
                ["contextless_output"] = c.ContextlessOutput,
                ["input_context_scores"] = NumberArray(c.InputContextScores),
                ["output_context_scores"] = NumberArray(c.OutputContextScores),
            }).ToArray()),
        };
        if (output.Info is not null)
        {
            root["info"] = output.Info.DeepClone();
        }

        return root;
    }

    private static JsonArray? StringArray(IReadOnlyList<string>? items) =>
        items is null ? null : new JsonArray(items.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray());

    private static JsonArray? NumberArray(IReadOnlyList<double>? items) =>
        items is null ? null : new JsonArray(items.Select(d => (JsonNode?)JsonValue.Create(d)).ToArray());

    private static double Number(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue(out double d) => d,
        JsonValue v when v.TryGetValue(out long l) => l,
        JsonValue v when v.TryGetValue(out int i) => i,
        _ => throw new FormatException($"expected a number, got {node?.ToJsonString() ?? "null"}"),
    };

    private static List<double>? Numbers(JsonNode? node) => node switch
    {
        null => null,
        JsonArray a => a.Select(Number).ToList(),
        _ => throw new FormatException($"expected a list of numbers, got {node.ToJsonString()}"),
    };

    private static List<string>? Strings(JsonNode? node) => node switch
    {
        null => null,
        JsonArray a => a.Select(x => x!.GetValue<string>()).ToList(),
        _ => throw new FormatException($"expected a list of strings, got {node.ToJsonString()}"),
    };
}
