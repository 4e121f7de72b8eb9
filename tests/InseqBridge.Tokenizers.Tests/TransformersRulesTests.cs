using System.Text.Json.Nodes;

namespace InseqBridge.Tokenizers.Tests;

/// <summary>
/// The two rules transformers' fast tokenizer classes add on top of the Rust library, checked on the real files
/// with their real <c>tokenizer_config.json</c>: LlamaTokenizerFast/GemmaTokenizerFast rebuild the post-processor from
/// <c>add_bos_token</c>/<c>add_eos_token</c> (update_post_processor: bos, sequence, eos, each only when its flag is
/// set; defaults True/False), and decode applies <c>clean_up_tokenization_spaces</c>. Other classes (Qwen2) keep the
/// file's post-processor. Expected ids come from the Rust oracle (ids without special tokens) plus the special ids
/// that tokenizer.json gives the bos/eos tokens.
/// </summary>
public sealed class TransformersRulesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inseq-tokrules-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Config(string name, Action<JsonObject>? edit = null)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(RealTokenizers.Folder(name), "tokenizer_config.json")))!.AsObject();
        edit?.Invoke(config);
        return config.ToJsonString();
    }

    private IHfTokenizer Load(string name, string? config, TokenizerKind kind = TokenizerKind.Auto) =>
        HfTokenizer.Load(RealTokenizers.MakeFolder(name, Path.Combine(_dir, Guid.NewGuid().ToString("N")), config), kind);

    [RealTokenizerFact("llama2")]
    public void LlamaRebuildsThePostProcessorFromTheConfigFlags()
    {
        var oracle = RealTokenizers.ReadOracle("llama2", "oracle.jsonl");
        var asShipped = Load("llama2", Config("llama2"));
        Assert.Equal("LlamaTokenizerFast", asShipped.TokenizerClass);
        var withEos = Load("llama2", Config("llama2", c => c["add_eos_token"] = true));
        var noBos = Load("llama2", Config("llama2", c => c["add_bos_token"] = false));
        int bos = asShipped.TokenToId("<s>")!.Value;
        int eos = asShipped.TokenToId("</s>")!.Value;
        Assert.Equal((1, 2), (bos, eos));
        foreach (var r in oracle)
        {
            Assert.Equal(r.IdsWith, asShipped.Encode(r.Text)); // add_bos_token=true, add_eos_token=false: the file's own template
            Assert.Equal([bos, .. r.IdsWithout, eos], withEos.Encode(r.Text));
            Assert.Equal(r.IdsWithout, noBos.Encode(r.Text));
            Assert.Equal(r.IdsWithout, withEos.Encode(r.Text, addSpecialTokens: false));
        }
        Assert.Equal(["<s>", "▁Hello", "</s>"], withEos.EncodeWithTokens("Hello").Tokens);
    }

    [RealTokenizerFact("gemma3")]
    public void GemmaRebuildsThePostProcessorFromTheConfigFlags()
    {
        var oracle = RealTokenizers.ReadOracle("gemma3", "oracle.jsonl").Take(60).ToList();
        var asShipped = Load("gemma3", Config("gemma3"));
        Assert.Equal("GemmaTokenizerFast", asShipped.TokenizerClass);
        var withEos = Load("gemma3", Config("gemma3", c => c["add_eos_token"] = true));
        // gemma3's config names bos_token "<bos>" and eos_token "<end_of_turn>"; the template uses the config's tokens.
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(RealTokenizers.Folder("gemma3"), "tokenizer_config.json")))!;
        int bos = asShipped.TokenToId(config["bos_token"]!.GetValue<string>())!.Value;
        int eos = asShipped.TokenToId(config["eos_token"]!.GetValue<string>())!.Value;
        Assert.Equal((2, 106), (bos, eos));
        foreach (var r in oracle)
        {
            Assert.Equal(r.IdsWith, asShipped.Encode(r.Text));
            Assert.Equal([bos, .. r.IdsWithout, eos], withEos.Encode(r.Text));
        }
    }

    [RealTokenizerFact("llama2")]
    public void MissingFlagsUseTheClassDefaults()
    {
        // LlamaTokenizerFast(add_bos_token=True, add_eos_token=False) when the config does not set them.
        var tok = Load("llama2", Config("llama2", c =>
        {
            c.Remove("add_bos_token");
            c.Remove("add_eos_token");
        }));
        var r = RealTokenizers.ReadOracle("llama2", "oracle.jsonl")[0];
        Assert.Equal([1, .. r.IdsWithout], tok.Encode(r.Text));
    }

    [RealTokenizerFact("qwen3")]
    public void OtherClassesKeepTheFilePostProcessor()
    {
        var tok = Load("qwen3", Config("qwen3", c => c["add_bos_token"] = true));
        foreach (var r in RealTokenizers.ReadOracle("qwen3", "oracle.jsonl").Take(40))
        {
            Assert.Equal(r.IdsWith, tok.Encode(r.Text));
        }
    }

    [RealTokenizerFact("llama3_1")]
    public void DecodeAppliesCleanUpTokenizationSpaces()
    {
        const string text = "Hello , world ! I 'm sure it 's fine , is n't it ?";
        var raw = RealTokenizers.LoadRaw("llama3_1");
        var cleaned = Load("llama3_1", Config("llama3_1")); // clean_up_tokenization_spaces: true
        var kept = Load("llama3_1", Config("llama3_1", c => c["clean_up_tokenization_spaces"] = false));
        var ids = cleaned.Encode(text);
        Assert.Equal(raw.Encode(text), ids);
        Assert.Equal("<|begin_of_text|>" + text, raw.DecodeRaw(ids, skipSpecialTokens: false));
        Assert.Equal("Hello, world! I'm sure it's fine, isn't it?", cleaned.Decode(ids, skipSpecialTokens: true));
        Assert.Equal(text, kept.Decode(ids, skipSpecialTokens: true));
        Assert.Equal(text, cleaned.Decode(ids, skipSpecialTokens: true, cleanUpTokenizationSpaces: false));
    }

    [RealTokenizerFact("llama3_1")]
    public void TokenizerJsonIsPreferredAndSlowCanBeRequested()
    {
        var tok = Load("llama3_1", Config("llama3_1"));
        Assert.EndsWith("Fast", tok.TokenizerClass, StringComparison.Ordinal);
        var e = Assert.Throws<TokenizerLoadException>(() => Load("llama3_1", Config("llama3_1"), TokenizerKind.Slow));
        Assert.Contains("not supported", e.Message);
    }
}
