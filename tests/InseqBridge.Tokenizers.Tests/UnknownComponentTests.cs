using System.Text.Json.Nodes;

namespace InseqBridge.Tokenizers.Tests;

/// <summary>A tokenizer.json component of a type this port does not implement is a typed error naming the type and the file.</summary>
public sealed class UnknownComponentTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inseq-tokunk-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static JsonObject Minimal() => new()
    {
        ["version"] = "1.0",
        ["added_tokens"] = new JsonArray(),
        ["normalizer"] = null,
        ["pre_tokenizer"] = new JsonObject { ["type"] = "WhitespaceSplit" },
        ["post_processor"] = null,
        ["decoder"] = null,
        ["model"] = new JsonObject
        {
            ["type"] = "WordLevel",
            ["vocab"] = new JsonObject { ["<unk>"] = 0, ["hello"] = 1, ["world"] = 2 },
            ["unk_token"] = "<unk>",
        },
    };

    private string Write(JsonObject root)
    {
        string path = Path.Combine(_dir, "tokenizer.json");
        File.WriteAllText(path, root.ToJsonString());
        return path;
    }

    [Fact]
    public void MinimalFileLoads()
    {
        Write(Minimal());
        var tok = HfTokenizer.Load(_dir);
        Assert.Equal([1, 2, 0], tok.Encode("hello world there"));
        Assert.Equal("hello world <unk>", tok.Decode([1, 2, 0]));
    }

    [Theory]
    [InlineData("normalizer", "normalizer")]
    [InlineData("pre_tokenizer", "pre-tokenizer")]
    [InlineData("decoder", "decoder")]
    [InlineData("post_processor", "post-processor")]
    [InlineData("model", "model")]
    public void UnknownTypeNamesTheTypeAndTheFile(string field, string component)
    {
        var root = Minimal();
        if (field == "model")
        {
            root["model"]!["type"] = "Frobnicate";
        }
        else
        {
            root[field] = new JsonObject { ["type"] = "Frobnicate" };
        }
        string path = Write(root);
        var e = Assert.Throws<TokenizerLoadException>(() => HfTokenizer.Load(_dir));
        Assert.Contains("'Frobnicate'", e.Message);
        Assert.Contains(component, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void UnknownTypeInsideASequenceIsNamedToo()
    {
        var root = Minimal();
        root["normalizer"] = JsonNode.Parse("""{"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Zalgo"}]}""");
        Write(root);
        var e = Assert.Throws<TokenizerLoadException>(() => HfTokenizer.Load(_dir));
        Assert.Contains("normalizer type 'Zalgo'", e.Message);
    }

    [Fact]
    public void MalformedModelNamesTheFile()
    {
        var root = Minimal();
        root["model"] = JsonNode.Parse("""{"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}""");
        string path = Write(root);
        var e = Assert.Throws<TokenizerLoadException>(() => HfTokenizer.Load(_dir));
        Assert.Contains(path, e.Message);
        Assert.Contains("BPE", e.Message);
    }
}
