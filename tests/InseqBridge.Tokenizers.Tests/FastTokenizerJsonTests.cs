using System.Text.Json;
using System.Text.Json.Nodes;

namespace InseqBridge.Tokenizers.Tests;

/// <summary>
/// <c>tokenizer.json</c> support, checked by rebuilding the GPT-2 fixture as a fast-format file (no fixture ships
/// one) and comparing against the slow fixture results.
/// </summary>
public sealed class FastTokenizerJsonTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inseq-tok-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void WriteGpt2TokenizerJson(string modelType = "BPE", JsonNode? postProcessor = null)
    {
        var source = FixturePaths.Model("gpt2");
        var vocab = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "vocab.json")))!;
        var merges = new JsonArray();
        foreach (var line in File.ReadLines(Path.Combine(source, "merges.txt")).Skip(1))
        {
            if (line.Length > 0)
            {
                merges.Add(line);
            }
        }
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(new JsonObject
            {
                ["id"] = 50256,
                ["content"] = "<|endoftext|>",
                ["single_word"] = false,
                ["lstrip"] = false,
                ["rstrip"] = false,
                ["normalized"] = true,
                ["special"] = true,
            }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true },
            ["post_processor"] = postProcessor ?? new JsonObject { ["type"] = "ByteLevel" },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject { ["type"] = modelType, ["vocab"] = vocab, ["merges"] = merges },
        };
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"), root.ToJsonString());
        File.Copy(Path.Combine(source, "tokenizer_config.json"), Path.Combine(_dir, "tokenizer_config.json"));
        // Without vocab.json/merges.txt the loader must fall back to tokenizer.json.
    }

    [Fact]
    public void ByteLevelBpeMatchesTheSlowFixture()
    {
        WriteGpt2TokenizerJson();
        var tok = HfTokenizer.Load(_dir);
        using var doc = TokenizationFixtureTests.Read("gpt2");
        foreach (var record in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            string text = record.GetProperty("text").GetString()!;
            Assert.Equal(TokenizationFixtureTests.Ints(record.GetProperty("ids_with_special_tokens")), tok.Encode(text));
            Assert.Equal(TokenizationFixtureTests.Strings(record.GetProperty("tokenize")), tok.Tokenize(text));
            Assert.Equal(record.GetProperty("decode_with_special_tokens").GetString(),
                tok.Decode(TokenizationFixtureTests.Ints(record.GetProperty("ids_with_special_tokens"))));
        }
        Assert.Equal(50257, tok.Count);
    }

    [Fact]
    public void TemplatePostProcessorWrapsTheSequence()
    {
        var template = JsonNode.Parse("""
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [],
             "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [50256], "tokens": ["<|endoftext|>"]}}}
            """);
        WriteGpt2TokenizerJson(postProcessor: template);
        Assert.Equal([50256, 15496, 995], HfTokenizer.Load(_dir).Encode("Hello world"));
    }

    [Fact]
    public void UnsupportedModelTypeNamesTheFile()
    {
        WriteGpt2TokenizerJson(modelType: "Unigram");
        var e = Assert.Throws<TokenizerLoadException>(() => HfTokenizer.Load(_dir));
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains("Unigram", e.Message);
    }

    [Fact]
    public void CorruptTokenizerJsonNamesTheFile()
    {
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"), "{\"model\": ");
        var e = Assert.Throws<TokenizerLoadException>(() => HfTokenizer.Load(_dir));
        Assert.Contains("tokenizer.json", e.Message);
    }
}
