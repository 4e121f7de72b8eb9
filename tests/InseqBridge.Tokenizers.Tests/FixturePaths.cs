namespace InseqBridge.Tokenizers.Tests;

/// <summary>Finds the parity fixtures by walking up from the test binaries to the solution folder.</summary>
internal static class FixturePaths
{
    private static readonly Lazy<string> FixturesRoot = new(FindFixturesRoot);

    /// <summary>Models of tests/fixtures/parity (first) and tests/fixtures/parity-real (slow-tokenizer models of the
    /// real-checkpoint set, made by the same transformers 4.39 stack).</summary>
    public static readonly string[] ModelNames = ["gpt2", "bart", "llama", "qwen2", "marian", "t5", "gpt_neox", "opt", "gemma", "phi", "m2m100", "mt5"];

    public static string Model(string name)
    {
        string parity = Path.Combine(FixturesRoot.Value, "parity", "models", name);
        return Directory.Exists(parity) ? parity : Path.Combine(FixturesRoot.Value, "parity-real", "models", name);
    }

    /// <summary>The solution folder.</summary>
    public static string Root => Path.GetFullPath(Path.Combine(FixturesRoot.Value, "..", ".."));

    private static string FindFixturesRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "InseqBridge.sln")))
            {
                return Path.Combine(dir.FullName, "tests", "fixtures");
            }
        }
        throw new DirectoryNotFoundException($"No InseqBridge.sln above {AppContext.BaseDirectory}.");
    }
}
