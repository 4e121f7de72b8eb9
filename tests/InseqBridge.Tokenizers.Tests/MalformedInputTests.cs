namespace InseqBridge.Tokenizers.Tests;

/// <summary>Broken tokenizer folders fail with a <see cref="TokenizerLoadException"/> that names the guilty file.</summary>
public sealed class MalformedInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inseq-tok-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void CopyFixture(string model, params string[] files)
    {
        foreach (var file in files)
        {
            File.Copy(Path.Combine(FixturePaths.Model(model), file), Path.Combine(_dir, file));
        }
    }

    private TokenizerLoadException LoadFails() => Assert.Throws<TokenizerLoadException>(() => HfTokenizer.Load(_dir));

    [Fact]
    public void MissingFolder()
    {
        var e = Assert.Throws<TokenizerLoadException>(() => HfTokenizer.Load(Path.Combine(_dir, "nope")));
        Assert.Contains("nope", e.Message);
    }

    [Fact]
    public void EmptyFolder() => Assert.Contains("no tokenizer files", LoadFails().Message);

    [Fact]
    public void MissingMerges()
    {
        CopyFixture("gpt2", "tokenizer_config.json", "vocab.json");
        Assert.Contains("merges.txt", LoadFails().Message);
    }

    /// <summary>Fuzz finding: a string of tokenizer_config.json with invalid UTF-8 (a lone 0xAC byte) escaped as an
    /// InvalidOperationException from System.Text.Json when the special token was read.</summary>
    [Fact]
    public void InvalidUtf8InTokenizerConfig()
    {
        CopyFixture("gpt2", "vocab.json", "merges.txt");
        File.WriteAllBytes(Path.Combine(_dir, "tokenizer_config.json"), [.. "{\"eos_token\": \"<|end"u8, 0xAC, .. "|>\"}"u8]);
        var e = LoadFails();
        Assert.Contains("tokenizer_config.json", e.Message);
        Assert.Contains("UTF-8", e.Message);
    }

    [Fact]
    public void CorruptVocabJson()
    {
        CopyFixture("gpt2", "tokenizer_config.json", "merges.txt");
        File.WriteAllText(Path.Combine(_dir, "vocab.json"), "{\"a\": 1, \"b\": ");
        Assert.Contains("vocab.json", LoadFails().Message);
    }

    [Fact]
    public void VocabJsonWithNonIntegerId()
    {
        CopyFixture("gpt2", "tokenizer_config.json", "merges.txt");
        File.WriteAllText(Path.Combine(_dir, "vocab.json"), "{\"a\": \"x\"}");
        var message = LoadFails().Message;
        Assert.Contains("vocab.json", message);
        Assert.Contains("'a'", message);
    }

    [Fact]
    public void VocabJsonThatIsAnArray()
    {
        CopyFixture("gpt2", "tokenizer_config.json", "merges.txt");
        File.WriteAllText(Path.Combine(_dir, "vocab.json"), "[1, 2]");
        Assert.Contains("vocab.json", LoadFails().Message);
    }

    [Fact]
    public void MergesWithBadLine()
    {
        CopyFixture("gpt2", "tokenizer_config.json", "vocab.json");
        File.WriteAllText(Path.Combine(_dir, "merges.txt"), "#version: 0.2\nĠ t\nthis line has three\n");
        var message = LoadFails().Message;
        Assert.Contains("merges.txt", message);
        Assert.Contains("line 3", message);
    }

    [Fact]
    public void CorruptTokenizerConfig()
    {
        CopyFixture("gpt2", "vocab.json", "merges.txt");
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"), "{ not json");
        Assert.Contains("tokenizer_config.json", LoadFails().Message);
    }

    [Fact]
    public void UnsupportedTokenizerClass()
    {
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"), "{\"tokenizer_class\": \"BertTokenizer\"}");
        Assert.Contains("BertTokenizer", LoadFails().Message);
    }

    [Fact]
    public void TruncatedSentencePieceModel()
    {
        CopyFixture("t5", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json");
        var bytes = File.ReadAllBytes(Path.Combine(FixturePaths.Model("t5"), "spiece.model"));
        File.WriteAllBytes(Path.Combine(_dir, "spiece.model"), bytes[..(bytes.Length / 2)]);
        var message = LoadFails().Message;
        Assert.Contains("spiece.model", message);
        Assert.Contains("truncated", message);
    }

    [Fact]
    public void GarbageSentencePieceModel()
    {
        CopyFixture("marian", "tokenizer_config.json", "vocab.json", "target.spm");
        File.WriteAllBytes(Path.Combine(_dir, "source.spm"), [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01]);
        Assert.Contains("source.spm", LoadFails().Message);
    }

    [Fact]
    public void MissingTargetSpm()
    {
        CopyFixture("marian", "tokenizer_config.json", "vocab.json", "source.spm");
        Assert.Contains("target.spm", LoadFails().Message);
    }
}
