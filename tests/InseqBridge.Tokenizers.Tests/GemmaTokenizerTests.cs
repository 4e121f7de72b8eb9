using System.Text.Json.Nodes;

namespace InseqBridge.Tokenizers.Tests;

/// <summary>
/// GemmaTokenizer behaviours the fixture's tokenization.json does not reach: a non-special added token is decoded in
/// place with no spaces around it (Gemma's own <c>_decode</c>), and without <c>clean_up_tokenization_spaces</c> in the
/// config the class default (false) applies. Expected values were produced by transformers 4.39's GemmaTokenizer
/// (use_fast=False) on the same edited folder.
/// </summary>
public sealed class GemmaTokenizerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"inseqbridge-gemma-{Guid.NewGuid():N}");

    public GemmaTokenizerTests()
    {
        Directory.CreateDirectory(_dir);
        foreach (var file in Directory.GetFiles(FixturePaths.Model("gemma")))
        {
            File.Copy(file, Path.Combine(_dir, Path.GetFileName(file)));
        }
        string configPath = Path.Combine(_dir, "tokenizer_config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["added_tokens_decoder"]!["1002"] = JsonNode.Parse(
            """{"content": "<extra>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": false}""");
        config.Remove("clean_up_tokenization_spaces");
        File.WriteAllText(configPath, config.ToJsonString());
        string addedPath = Path.Combine(_dir, "added_tokens.json");
        var added = JsonNode.Parse(File.ReadAllText(addedPath))!.AsObject();
        added["<extra>"] = 1002;
        File.WriteAllText(addedPath, added.ToJsonString());
    }

    [Theory]
    [InlineData("Hello<extra>world <extra> x", new[] { 1000, 965, 909, 345, 911, 1002, 928, 266, 429, 908, 1002, 908, 945 },
        "<bos>Hello<extra>world <extra> x", "Hello<extra>world <extra> x")]
    [InlineData("a , b<extra>. c 日本", new[] { 1000, 915, 908, 931, 302, 1002, 927, 272, 908, 236, 157, 171, 236, 162, 178 },
        "<bos>a , b<extra>. c 日本", "a , b<extra>. c 日本")]
    public void Added_tokens_and_cleanup_follow_the_python_class(string text, int[] ids, string decoded, string decodedSkipSpecial)
    {
        var tokenizer = HfTokenizer.Load(_dir);
        Assert.Equal(1003, tokenizer.Count);
        Assert.Equal(ids, tokenizer.Encode(text));
        Assert.Equal(decoded, tokenizer.Decode(ids));
        Assert.Equal(decodedSkipSpecial, tokenizer.Decode(ids, skipSpecialTokens: true));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
