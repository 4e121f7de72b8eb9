using System.Text.Json;
using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Serialization;

namespace InseqBridge.Native.Tests.Attribution;

/// <summary>
/// generate_from_target_prefix, clean_special_chars and skip_special_tokens on the native backend, against
/// tests/fixtures/attribute-options (real Inseq 0.6.0; python/reference/make_attribute_options_cases.py).
/// </summary>
public class AttributeOptionsTests
{
    private static string Dir => Path.Combine(Fixtures.RepositoryRoot, "tests", "fixtures", "attribute-options");

    public static TheoryData<int> PrefixCases()
    {
        using JsonDocument doc = Fixtures.Json(Path.Combine(Dir, "prefix_manifest.json"));
        var data = new TheoryData<int>();
        for (int i = 0; i < doc.RootElement.GetArrayLength(); i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(PrefixCases))]
    public void Generate_from_target_prefix_continues_the_prefix_as_inseq_0_6(int index)
    {
        using JsonDocument doc = Fixtures.Json(Path.Combine(Dir, "prefix_manifest.json"));
        JsonElement c = doc.RootElement[index];
        string model = c.GetProperty("model").GetString()!;
        var request = new AttributionRequest([.. c.GetProperty("input_texts").EnumerateArray().Select(x => x.GetString()!)])
        {
            GeneratedTexts = [.. c.GetProperty("prefixes").EnumerateArray().Select(x => x.GetString()!)],
            GenerateFromTargetPrefix = true,
            Generation = new GenerationArguments { MaxNewTokens = c.GetProperty("generation_args").GetProperty("max_new_tokens").GetInt32() },
            Mode = ExecutionMode.Reference,
        };
        FeatureAttributionOutput actual = AttributionParityTests.Model(model).Attribute(request);
        FeatureAttributionOutput expected = InseqJson.Load(Path.Combine(Dir, c.GetProperty("output_file").GetString()!));

        Assert.Equal(
            c.GetProperty("generated_texts").EnumerateArray().Select(x => x.GetString()),
            actual.Info["generated_texts"]!.AsArray().Select(x => x!.GetValue<string>()));
        Assert.True(actual.Info["generate_from_target_prefix"]!.GetValue<bool>());
        Assert.True(actual.Info["constrained_decoding"]!.GetValue<bool>());
        AttributionParityTests.Compare(expected, actual, $"prefix case {index}");
    }

    [Fact]
    public void Generate_from_target_prefix_is_ignored_without_generated_texts_and_for_decoder_only_models()
    {
        var gpt2 = AttributionParityTests.Model("gpt2");
        var forced = new AttributionRequest(["Hello world"]) { GeneratedTexts = ["Hello world, this is"], GenerateFromTargetPrefix = true };
        FeatureAttributionOutput output = gpt2.Attribute(forced);
        Assert.Equal("Hello world, this is", output.Info["generated_texts"]![0]!.GetValue<string>());
        Assert.False(output.Info["generate_from_target_prefix"]!.GetValue<bool>());
    }

    public static TheoryData<int> CleanCases()
    {
        using JsonDocument doc = Fixtures.Json(Path.Combine(Dir, "clean_tokens.json"));
        var data = new TheoryData<int>();
        for (int i = 0; i < doc.RootElement.GetArrayLength(); i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CleanCases))]
    public void Clean_special_chars_shows_tokens_as_inseq_clean_tokens(int index)
    {
        using JsonDocument doc = Fixtures.Json(Path.Combine(Dir, "clean_tokens.json"));
        JsonElement c = doc.RootElement[index];
        string model = c.GetProperty("model").GetString()!;
        string text = c.GetProperty("text").GetString()!;
        bool asTargets = c.GetProperty("as_targets").GetBoolean();
        var native = AttributionParityTests.Model(model);
        var request = native.IsEncoderDecoder
            ? new AttributionRequest([text]) { GeneratedTexts = [text], CleanSpecialChars = true, AttributeTarget = true }
            : new AttributionRequest([text]) { GeneratedTexts = [text + " x"], CleanSpecialChars = true };
        FeatureAttributionSequenceOutput plain = native.Attribute(request with { CleanSpecialChars = false }).SequenceAttributions[0];
        FeatureAttributionSequenceOutput cleaned = native.Attribute(request).SequenceAttributions[0];
        IReadOnlyList<TokenWithId> before = asTargets ? plain.Target : plain.Source;
        IReadOnlyList<TokenWithId> after = asTargets ? cleaned.Target : cleaned.Source;

        Assert.Equal(c.GetProperty("tokens").EnumerateArray().Select(x => x.GetString()), before.Select(t => t.Token));
        Assert.Equal(c.GetProperty("clean").EnumerateArray().Select(x => x.GetString()), after.Select(t => t.Token));
        Assert.Equal(before.Select(t => t.Id), after.Select(t => t.Id));
        Assert.Equal(plain.SourceAttributions?.ToArray(), cleaned.SourceAttributions?.ToArray());
    }

    [Fact]
    public void Skip_special_tokens_drops_eos_from_source_and_target_of_an_encoder_decoder()
    {
        var marian = AttributionParityTests.Model("marian");
        var request = new AttributionRequest(["The cursor moves to the line.</s>"]) { GeneratedTexts = ["Le curseur se déplace sur la ligne."] };
        FeatureAttributionSequenceOutput with = marian.Attribute(request with { InputTexts = ["The cursor moves to the line."] }).SequenceAttributions[0];
        FeatureAttributionSequenceOutput skipped = marian.Attribute(request with { SkipSpecialTokens = true }).SequenceAttributions[0];

        Assert.Equal("</s>", with.Source[^1].Token);
        Assert.Equal("</s>", with.Target[^1].Token);
        Assert.Equal(with.Source.Take(with.Source.Count - 1), skipped.Source);
        Assert.Equal(with.Target.Take(with.Target.Count - 1), skipped.Target);
        Assert.Equal(with.Target[0], skipped.Target[0]); // the decoder start token stays
        Assert.Equal(skipped.Source.Count, skipped.SourceAttributions!.Shape[0]);
        Assert.Equal(skipped.Target.Count - 1, skipped.SourceAttributions.Shape[1]);
    }

    [Fact]
    public void Skip_special_tokens_removes_special_token_strings_from_decoder_only_texts()
    {
        var gpt2 = AttributionParityTests.Model("gpt2");
        string eos = gpt2.Tokenizer.IdToToken(gpt2.Tokenizer.Special.Eos!.Id)!;
        var marked = new AttributionRequest([$"Hello{eos} world"]) { GeneratedTexts = [$"Hello{eos} world, this"] };
        FeatureAttributionSequenceOutput skipped = gpt2.Attribute(marked with { SkipSpecialTokens = true }).SequenceAttributions[0];
        FeatureAttributionSequenceOutput clean = gpt2.Attribute(new AttributionRequest(["Hello world"]) { GeneratedTexts = ["Hello world, this"] }).SequenceAttributions[0];

        Assert.Equal(clean.Target, skipped.Target);
        Assert.Equal(clean.AttrPosStart, skipped.AttrPosStart);
        Assert.Equal(clean.TargetAttributions!.ToArray(), skipped.TargetAttributions!.ToArray());
    }
}
