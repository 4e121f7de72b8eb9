using System.Text.Json;
using InseqBridge.Errors;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Generation;

namespace InseqBridge.Native.Tests.Generation;

/// <summary>
/// Beam search (num_beams 2-4, length_penalty 0.5/1/2, early_stopping False/True/"never", with no-repeat n-grams and
/// repetition penalty) and the greedy repetition penalty / no-repeat n-gram processors against transformers
/// 4.39's generate() on the six tiny models: tests/fixtures/generation/beam-search.json, made by
/// python/reference/beam_search_reference.py with the reference stack. Token ids must be identical.
/// </summary>
public sealed class DecodingStrategyReferenceTests
{
    private static readonly Lazy<JsonElement> Reference = new(() =>
        Fixtures.Json(Path.Combine(Fixtures.RepositoryRoot, "tests", "fixtures", "generation", "beam-search.json")).RootElement.Clone());

    public static TheoryData<string> Models() => new("gpt2", "bart", "llama", "qwen2", "marian", "t5");

    [Theory]
    [MemberData(nameof(Models))]
    public void Generated_tokens_equal_transformers(string modelName)
    {
        var model = Fixtures.Model(modelName);
        string dir = Fixtures.ModelDir(modelName);
        var config = GenerationConfig.Load(dir, ModelConfig.Load(dir));
        var failures = new List<string>();
        int checkedCases = 0;
        foreach (JsonElement testCase in Reference.Value.GetProperty("cases").EnumerateArray().Where(c => c.GetProperty("model").GetString() == modelName))
        {
            int[] prompt = testCase.GetProperty("prompt").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            int[] expected = testCase.GetProperty("new_tokens").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            JsonElement kwargs = testCase.GetProperty("kwargs");
            GenerationConfig effective = config;
            if (kwargs.TryGetProperty("early_stopping", out JsonElement stopping))
            {
                effective = config with
                {
                    EarlyStopping = stopping.ValueKind == JsonValueKind.True ? BeamStopping.Early
                        : stopping.ValueKind == JsonValueKind.String ? BeamStopping.Never : BeamStopping.Heuristic,
                };
            }

            var options = new GenerationOptions
            {
                MaxNewTokens = kwargs.GetProperty("max_new_tokens").GetInt32(),
                DoSample = false,
                NumBeams = kwargs.TryGetProperty("num_beams", out JsonElement beams) ? beams.GetInt32() : null,
                LengthPenalty = kwargs.TryGetProperty("length_penalty", out JsonElement lp) ? lp.GetDouble() : null,
                RepetitionPenalty = kwargs.TryGetProperty("repetition_penalty", out JsonElement rp) ? rp.GetDouble() : null,
                NoRepeatNgramSize = kwargs.TryGetProperty("no_repeat_ngram_size", out JsonElement nr) ? nr.GetInt32() : null,
            };
            int[] actual = Generator.Generate(model, effective, [prompt], options)[0];
            checkedCases++;
            if (!expected.SequenceEqual(actual))
            {
                failures.Add($"{testCase.GetProperty("id").GetString()} {kwargs.GetRawText()}: expected [{string.Join(",", expected)}] got [{string.Join(",", actual)}]");
            }
        }

        Assert.Equal(30, checkedCases);
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Batched_beam_search_equals_one_by_one()
    {
        foreach (string name in new[] { "gpt2", "bart" })
        {
            var model = Fixtures.Model(name);
            string dir = Fixtures.ModelDir(name);
            var config = GenerationConfig.Load(dir, ModelConfig.Load(dir));
            int[][] prompts = model.IsEncoderDecoder
                ? [[50257, 15496, 995, 50258], [50257, 464, 2068, 7586, 21831, 18045, 50258]]
                : [[15496, 995, 11, 314], [464, 2068]];
            var options = new GenerationOptions { MaxNewTokens = 7, NumBeams = 3 };
            var batched = Generator.Generate(model, config, prompts, options);
            for (int i = 0; i < prompts.Length; i++)
            {
                Assert.Equal(Generator.Generate(model, config, [prompts[i]], options)[0], batched[i]);
            }
        }
    }

    [Fact]
    public void Unsupported_combinations_name_the_setting()
    {
        var model = Fixtures.Model("gpt2");
        string dir = Fixtures.ModelDir("gpt2");
        var config = GenerationConfig.Load(dir, ModelConfig.Load(dir));
        var sampling = Assert.Throws<InvalidRequestException>(() =>
            Generator.Generate(model, config, [[15496, 995]], new GenerationOptions { MaxNewTokens = 2, NumBeams = 2, DoSample = true }));
        Assert.Contains("beam sampling", sampling.Message, StringComparison.Ordinal);
        var groups = Assert.Throws<InvalidRequestException>(() =>
            Generator.Generate(model, config with { NumBeamGroups = 2 }, [[15496, 995]], new GenerationOptions { MaxNewTokens = 2, NumBeams = 2 }));
        Assert.Contains("num_beam_groups=2", groups.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidRequestException>(() =>
            Generator.Generate(model, config, [[15496, 995]], new GenerationOptions { MaxNewTokens = 2, NumBeams = 0 }));
    }
}
