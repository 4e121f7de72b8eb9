namespace InseqBridge.Tokenizers.Tests;

/// <summary>Finds the parity fixtures by walking up from the test binaries to the solution folder.</summary>
internal static class FixturePaths
{
    private static readonly Lazy<string> ModelsRoot = new(FindModelsRoot);

    public static readonly string[] ModelNames = ["gpt2", "bart", "llama", "qwen2", "marian", "t5"];

    public static string Model(string name) => Path.Combine(ModelsRoot.Value, name);

    /// <summary>The solution folder.</summary>
    public static string Root => Path.GetFullPath(Path.Combine(ModelsRoot.Value, "..", "..", "..", ".."));

    private static string FindModelsRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "InseqBridge.sln")))
            {
                return Path.Combine(dir.FullName, "tests", "fixtures", "parity", "models");
            }
        }
        throw new DirectoryNotFoundException($"No InseqBridge.sln above {AppContext.BaseDirectory}.");
    }
}
