using System.Text.Json.Nodes;

namespace InseqBridge.Python.Tests;

/// <summary>The parity fixtures (tiny checkpoints + real Python Inseq outputs) of tests/fixtures/parity.</summary>
public static class Fixtures
{
    private static readonly Lazy<string> Root = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "InseqBridge.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Cannot find the repository root (InseqBridge.sln).");
    });

    private static readonly Lazy<JsonObject> Manifest = new(() =>
        (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(ParityDir, "manifest.json")))!);

    public static string ParityDir => Path.Combine(Root.Value, "tests", "fixtures", "parity");

    public static IEnumerable<JsonObject> Cases => Manifest.Value["cases"]!.AsArray().Select(c => (JsonObject)c!);

    public static JsonObject Case(string id) => Cases.Single(c => c["id"]!.GetValue<string>() == id);
}
