using System.Text.Json;

namespace InseqBridge.Tests;

/// <summary>Locates tests/fixtures/parity by walking up to the folder holding InseqBridge.sln.</summary>
public static class ParityFixtures
{
    public static string Root { get; } = FindRoot();

    public static string Attributions => Path.Combine(Root, "attributions");

    public static IEnumerable<object[]> OkCases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "manifest.json")));
        foreach (JsonElement c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            if (c.GetProperty("ok").GetBoolean())
            {
                yield return [c.GetProperty("id").GetString()!];
            }
        }
    }

    public static JsonElement Case(string id)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "manifest.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray().First(c => c.GetProperty("id").GetString() == id).Clone();
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "InseqBridge.sln")))
        {
            dir = dir.Parent;
        }

        return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("InseqBridge.sln not found"), "tests", "fixtures", "parity");
    }
}
