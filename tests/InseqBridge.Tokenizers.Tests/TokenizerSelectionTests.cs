using System.Text.Json.Nodes;

namespace InseqBridge.Tokenizers.Tests;

/// <summary>Which tokenizer a folder loads: AutoTokenizer's choice of class and of fast or slow files.</summary>
public sealed class TokenizerSelectionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inseq-toksel-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string CopyFixture(string model, params string[] leaveOut)
    {
        string target = Path.Combine(_dir, model);
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(FixturePaths.Model(model)))
        {
            string name = Path.GetFileName(file);
            if (!leaveOut.Contains(name) && !name.EndsWith(".safetensors", StringComparison.Ordinal))
            {
                File.Copy(file, Path.Combine(target, name));
            }
        }
        return target;
    }

    // Issue 13, case 5: without tokenizer_config.json the class follows config.json's model_type, as AutoTokenizer does.
    [Fact]
    public void BartWithoutTokenizerConfigIsTokenizedAsBart()
    {
        string folder = CopyFixture("bart", "tokenizer_config.json");
        var tok = HfTokenizer.Load(folder);
        Assert.Equal("BartTokenizer", tok.TokenizerClass);
        using var doc = TokenizationFixtureTests.Read("bart");
        foreach (var record in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            string text = record.GetProperty("text").GetString()!;
            if (text.Contains("<mask>", StringComparison.Ordinal))
            {
                // <mask>'s lstrip flag comes from tokenizer_config.json's added_tokens_decoder, which this folder lacks.
                continue;
            }
            Assert.Equal(TokenizationFixtureTests.Ints(record.GetProperty("ids_with_special_tokens")), tok.Encode(text));
        }
        Assert.Equal(tok.TokenToId("<s>"), tok.Encode("Hello world")[0]);
        Assert.Equal(tok.TokenToId("</s>"), tok.Encode("Hello world")[^1]);
    }

    [Fact]
    public void ModelTypeAlsoPicksTheClassOfOtherFolders()
    {
        string folder = CopyFixture("gpt2", "tokenizer_config.json");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!.AsObject();
        config["model_type"] = "bart";
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());
        Assert.Equal("BartTokenizer", HfTokenizer.Load(folder).TokenizerClass);
    }

    [Fact]
    public void FastRequestedWithoutTokenizerJsonSaysSo()
    {
        var e = Assert.Throws<TokenizerLoadException>(() => HfTokenizer.Load(FixturePaths.Model("gpt2"), TokenizerKind.Fast));
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains("--tokenizer slow", e.Message);
    }

    [Fact]
    public void SlowFixturesStillLoadTheSlowFiles()
    {
        foreach (var model in FixturePaths.ModelNames)
        {
            Assert.Equal(HfTokenizer.Load(FixturePaths.Model(model), TokenizerKind.Slow).TokenizerClass,
                HfTokenizer.Load(FixturePaths.Model(model)).TokenizerClass);
        }
    }
}
