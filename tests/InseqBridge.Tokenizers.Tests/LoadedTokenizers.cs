using System.Collections.Concurrent;

namespace InseqBridge.Tokenizers.Tests;

/// <summary>Loads each fixture tokenizer once per test run (they are immutable and thread-safe).</summary>
internal static class LoadedTokenizers
{
    private static readonly ConcurrentDictionary<string, Lazy<IHfTokenizer>> Cache = new();

    public static IHfTokenizer Get(string model) =>
        Cache.GetOrAdd(model, m => new Lazy<IHfTokenizer>(() => HfTokenizer.Load(FixturePaths.Model(m)))).Value;
}
