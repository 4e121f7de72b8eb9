using System.Text.Json;

namespace InseqBridge.Tokenizers.Tests;

/// <summary>
/// Every model × every case × every field of <c>tokenization.json</c> (produced by the real Python slow tokenizers)
/// must match exactly.
/// </summary>
public sealed class TokenizationFixtureTests
{
    private static readonly string[] Fields =
    [
        "ids_with_special_tokens", "ids_without_special_tokens", "tokens_with_special_tokens",
        "tokens_without_special_tokens", "tokenize", "decode_with_special_tokens",
        "decode_with_special_tokens_skip_special_tokens", "decode_without_special_tokens",
    ];

    public static TheoryData<string, int, string, bool> Cases()
    {
        var data = new TheoryData<string, int, string, bool>();
        foreach (var model in FixturePaths.ModelNames)
        {
            using var doc = Read(model);
            var cases = doc.RootElement.GetProperty("cases");
            for (int i = 0; i < cases.GetArrayLength(); i++)
            {
                foreach (var field in Fields)
                {
                    if (cases[i].TryGetProperty(field, out _))
                    {
                        data.Add(model, i, field, false);
                    }
                    if (cases[i].TryGetProperty("as_target", out var target) && target.TryGetProperty(field, out _))
                    {
                        data.Add(model, i, field, true);
                    }
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPython(string model, int caseIndex, string field, bool asTarget)
    {
        using var doc = Read(model);
        var record = doc.RootElement.GetProperty("cases")[caseIndex];
        string text = record.GetProperty("text").GetString()!;
        var expected = asTarget ? record.GetProperty("as_target").GetProperty(field) : record.GetProperty(field);
        var tok = LoadedTokenizers.Get(model);

        var withSpecial = tok.Encode(text, addSpecialTokens: true, asTarget: asTarget);
        var withoutSpecial = tok.Encode(text, addSpecialTokens: false, asTarget: asTarget);
        switch (field)
        {
            case "ids_with_special_tokens":
                Assert.Equal(Ints(expected), withSpecial);
                break;
            case "ids_without_special_tokens":
                Assert.Equal(Ints(expected), withoutSpecial);
                break;
            case "tokens_with_special_tokens":
                Assert.Equal(Strings(expected), tok.ConvertIdsToTokens(withSpecial));
                break;
            case "tokens_without_special_tokens":
                Assert.Equal(Strings(expected), tok.ConvertIdsToTokens(withoutSpecial));
                break;
            case "tokenize":
                Assert.Equal(Strings(expected), tok.Tokenize(text, asTarget));
                break;
            case "decode_with_special_tokens":
                Assert.Equal(expected.GetString(), tok.Decode(Ints(record, "ids_with_special_tokens", asTarget)));
                break;
            case "decode_with_special_tokens_skip_special_tokens":
                Assert.Equal(expected.GetString(),
                    tok.Decode(Ints(record, "ids_with_special_tokens", asTarget), skipSpecialTokens: true));
                break;
            case "decode_without_special_tokens":
                Assert.Equal(expected.GetString(), tok.Decode(Ints(record, "ids_without_special_tokens", asTarget)));
                break;
            default:
                throw new InvalidOperationException(field);
        }
    }

    [Theory]
    [MemberData(nameof(ModelNames))]
    public void LengthAndSpecialTokensMatchPython(string model)
    {
        using var doc = Read(model);
        var root = doc.RootElement;
        var tok = LoadedTokenizers.Get(model);
        Assert.Equal(root.GetProperty("tokenizer_class").GetString(), tok.TokenizerClass);
        Assert.Equal(root.GetProperty("len_tokenizer").GetInt32(), tok.Count);
        foreach (var entry in root.GetProperty("special_token_ids").EnumerateObject())
        {
            Assert.Equal(entry.Value.GetInt32(), tok.TokenToId(entry.Name));
            Assert.True(tok.IsSpecial(entry.Value.GetInt32()), entry.Name);
            Assert.Contains(entry.Value.GetInt32(), tok.Special.AllSpecialIds);
        }
        var specials = root.GetProperty("special_tokens");
        AssertSpecial(specials, "eos_token", tok.Special.Eos);
        AssertSpecial(specials, "bos_token", tok.Special.Bos);
        AssertSpecial(specials, "unk_token", tok.Special.Unk);
        AssertSpecial(specials, "pad_token", tok.Special.Pad);
    }

    public static TheoryData<string> ModelNames() => new(FixturePaths.ModelNames);

    private static void AssertSpecial(JsonElement specials, string name, TokenAndId? actual)
    {
        if (specials.TryGetProperty(name, out var expected))
        {
            Assert.NotNull(actual);
            Assert.Equal(expected.GetString(), actual.Token);
        }
        else
        {
            Assert.Null(actual);
        }
    }

    internal static JsonDocument Read(string model) =>
        JsonDocument.Parse(File.ReadAllBytes(Path.Combine(FixturePaths.Model(model), "tokenization.json")));

    private static int[] Ints(JsonElement record, string field, bool asTarget) =>
        Ints(asTarget ? record.GetProperty("as_target").GetProperty(field) : record.GetProperty(field));

    internal static int[] Ints(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetInt32())];

    internal static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];
}
