using System.Text.Json;

namespace InseqBridge.Tokenizers.Tests;

/// <summary>Ids, tokens and decoded strings recorded in <c>generation.json</c> and <c>logits.json</c>.</summary>
public sealed class GenerationFixtureTests
{
    public static TheoryData<string, int> Inputs()
    {
        var data = new TheoryData<string, int>();
        foreach (var model in FixturePaths.ModelNames)
        {
            using var doc = Read(model, "generation.json");
            for (int i = 0; i < doc.RootElement.GetProperty("inputs").GetArrayLength(); i++)
            {
                data.Add(model, i);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void DecodesGeneratedIds(string model, int index)
    {
        using var doc = Read(model, "generation.json");
        var input = doc.RootElement.GetProperty("inputs")[index];
        var tok = LoadedTokenizers.Get(model);
        var outputIds = TokenizationFixtureTests.Ints(input.GetProperty("output_ids"));
        Assert.Equal(input.GetProperty("decoded").GetString(), tok.Decode(outputIds));
        Assert.Equal(input.GetProperty("decoded_skip_special_tokens").GetString(), tok.Decode(outputIds, skipSpecialTokens: true));
        Assert.Equal(TokenizationFixtureTests.Strings(input.GetProperty("output_tokens")), tok.ConvertIdsToTokens(outputIds));
        Assert.Equal(TokenizationFixtureTests.Ints(input.GetProperty("input_ids")),
            tok.Encode(input.GetProperty("text").GetString()!));
    }

    public static TheoryData<string, int> LogitInputs()
    {
        var data = new TheoryData<string, int>();
        foreach (var model in FixturePaths.ModelNames)
        {
            using var doc = Read(model, "logits.json");
            for (int i = 0; i < doc.RootElement.GetProperty("inputs").GetArrayLength(); i++)
            {
                data.Add(model, i);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(LogitInputs))]
    public void EncodesLogitInputs(string model, int index)
    {
        using var doc = Read(model, "logits.json");
        var input = doc.RootElement.GetProperty("inputs")[index];
        var tok = LoadedTokenizers.Get(model);
        var ids = tok.Encode(input.GetProperty("text").GetString()!);
        Assert.Equal(TokenizationFixtureTests.Ints(input.GetProperty("input_ids")), ids);
        Assert.Equal(TokenizationFixtureTests.Strings(input.GetProperty("tokens")), tok.ConvertIdsToTokens(ids));
        if (input.TryGetProperty("decoder_input_ids", out var decoderIds))
        {
            // [decoder_start] + tok(text_target=prefix, add_special_tokens=False).input_ids
            var expected = TokenizationFixtureTests.Ints(decoderIds);
            var prefix = tok.Encode(input.GetProperty("decoder_prefix_text").GetString()!, addSpecialTokens: false, asTarget: true);
            Assert.Equal(expected[1..], prefix);
            Assert.Equal(TokenizationFixtureTests.Strings(input.GetProperty("decoder_tokens")), tok.ConvertIdsToTokens(expected));
        }
    }

    private static JsonDocument Read(string model, string file) =>
        JsonDocument.Parse(File.ReadAllBytes(Path.Combine(FixturePaths.Model(model), file)));
}
