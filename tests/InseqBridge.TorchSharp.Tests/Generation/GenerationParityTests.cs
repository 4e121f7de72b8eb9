using System.Text.Json;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Generation;

namespace InseqBridge.Native.Tests.Generation;

/// <summary>Greedy generation equals transformers' generate (reference: generation.json, max_new_tokens=8).</summary>
public class GenerationParityTests
{
    public static TheoryData<string> Models() => new(Fixtures.ModelNames);

    [Theory]
    [MemberData(nameof(Models))]
    public void Greedy_generation_is_exact(string modelName)
    {
        var model = Fixtures.Model(modelName);
        string dir = Fixtures.ModelDir(modelName);
        var config = GenerationConfig.Load(dir, ModelConfig.Load(dir));
        using JsonDocument doc = Fixtures.Json(Path.Combine(dir, "generation.json"));
        int maxNew = doc.RootElement.GetProperty("generate_kwargs").GetProperty("max_new_tokens").GetInt32();
        foreach (JsonElement entry in doc.RootElement.GetProperty("inputs").EnumerateArray())
        {
            int[] input = entry.GetProperty("input_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            int[] expected = entry.GetProperty("new_token_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            int[] actual = Generator.Generate(model, config, [input], new GenerationOptions { MaxNewTokens = maxNew })[0];

            // transformers returns decoder start + new tokens for encoder-decoders (the fixture's new_token_ids too).
            int[] outputIds = model.IsEncoderDecoder ? [config.DecoderStartTokenId!.Value, .. actual] : actual;
            Assert.Equal(expected, outputIds);
        }
    }

    [Fact]
    public void Batched_generation_equals_one_by_one_for_encoder_decoder()
    {
        var model = Fixtures.Model("bart");
        string dir = Fixtures.ModelDir("bart");
        var config = GenerationConfig.Load(dir, ModelConfig.Load(dir));
        int[][] prompts = [[50257, 15496, 995, 50258], [50257, 464, 2068, 7586, 21831, 18045, 50258]];
        var batched = Generator.Generate(model, config, prompts, new GenerationOptions { MaxNewTokens = 6 });
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(Generator.Generate(model, config, [prompts[i]], new GenerationOptions { MaxNewTokens = 6 })[0], batched[i]);
        }
    }

    [Fact]
    public void Seeded_sampling_is_reproducible()
    {
        var model = Fixtures.Model("gpt2");
        string dir = Fixtures.ModelDir("gpt2");
        var config = GenerationConfig.Load(dir, ModelConfig.Load(dir));
        var options = new GenerationOptions { MaxNewTokens = 8, DoSample = true, Seed = 7 };
        var a = Generator.Generate(model, config, [[15496, 995]], options);
        var b = Generator.Generate(model, config, [[15496, 995]], options);
        Assert.Equal(a[0], b[0]);
        Assert.Equal(8, a[0].Length);
    }
}
