using System.Text.Json.Nodes;
using InseqBridge.Attribution.Context;
using InseqBridge.Serialization;

namespace InseqBridge.Tests;

/// <summary>The attribute-context references written by Inseq 0.6.0 (tests/fixtures/reference-context).</summary>
public static class ContextFixtures
{
    /// <summary>The folder.</summary>
    public static string Dir { get; } = Path.Combine(Path.GetDirectoryName(ParityFixtures.Root)!, "reference-context");

    /// <summary>manifest.json: case id → arguments, CTI threshold, console text (or the error Inseq raised).</summary>
    public static JsonObject Manifest() => (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(Dir, "manifest.json")))!;

    /// <summary>Ids of the cases Inseq completed.</summary>
    public static TheoryData<string> OkCases()
    {
        var data = new TheoryData<string>();
        foreach (var (id, entry) in (JsonObject)Manifest()["cases"]!)
        {
            if (entry!["error"] is null)
            {
                data.Add(id);
            }
        }

        return data;
    }

    /// <summary>The saved output of case <paramref name="id"/>.</summary>
    public static AttributeContextOutput Load(string id) => AttributeContextJson.Load(Path.Combine(Dir, id + ".json"));

    /// <summary>The saved output with the score lists Inseq's view extended in place (when both contexts exist)
    /// cut back to one score per context token.</summary>
    public static AttributeContextOutput LoadClean(string id)
    {
        AttributeContextOutput output = Load(id);
        return output with
        {
            CciScores = output.CciScores.Select(c => c with
            {
                InputContextScores = c.InputContextScores?.Take(output.InputContextTokens?.Count ?? 0).ToList(),
                OutputContextScores = c.OutputContextScores?.Take(output.OutputContextTokens?.Count ?? 0).ToList(),
            }).ToList(),
        };
    }
}
