using System.Text.Json.Nodes;
using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Errors;
using InseqBridge.Native.Attribution;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Tests.Attribution;

/// <summary>
/// Training-mode dropout in the native models and the <c>mc_dropout_prob_avg</c> step function. Python parity is
/// impossible (dropout masks come from another random stream), so these check the definition's properties.
/// </summary>
public class McDropoutTests
{
    private static float[] Scores(FeatureAttributionOutput output, string id, int sequence = 0) =>
        output.SequenceAttributions[sequence].StepScores[id].Span.ToArray();

    private static AttributionRequest GptRequest(long seed, StepFunction fn) => new(["Hello world"])
    {
        GeneratedTexts = ["Hello world, this is a test"],
        Method = new DummyAttribution(),
        StepScores = [fn],
        Generation = new GenerationArguments { Seed = seed },
    };

    /// <summary>Next-token logits [1, positions, vocab] of a fixed input, in eval mode or with dropout drawn from a generator seeded with <paramref name="seed"/>.</summary>
    private static float[] Logits(TransformerLanguageModel model, long? seed)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using Generator? generator = seed is long s ? new Generator(unchecked((ulong)s)) : null;
        var options = new ForwardOptions { Dropout = generator };
        Tensor ids = torch.tensor(new long[] { 3, 7, 11, 5, 9 }, [1, 5]);
        Tensor embeds = model.EmbedDecoderTokens(ids);
        EncoderOutput? encoded = model.IsEncoderDecoder ? model.Encode(model.EmbedEncoderTokens(ids), null, options) : null;
        return model.Decode(embeds, null, null, encoded, null, null, options).Logits.data<float>().ToArray();
    }

    [Theory]
    [InlineData("gpt2", true)]
    [InlineData("bart", true)]
    [InlineData("marian", true)]
    [InlineData("t5", true)]
    [InlineData("llama", false)]
    [InlineData("qwen2", false)]
    public void Dropout_forward_is_seeded_and_only_active_where_the_config_has_rates(string name, bool hasDropout)
    {
        var model = Fixtures.Model(name);
        float[] eval = Logits(model, null);
        float[] first = Logits(model, 1), again = Logits(model, 1), other = Logits(model, 2);
        Assert.Equal(first, again);
        if (hasDropout)
        {
            Assert.NotEqual(eval, first);
            Assert.NotEqual(first, other);
        }
        else
        {
            // Llama/Qwen2 fixtures have attention_dropout 0: the dropout forward is the eval forward, bit for bit.
            Assert.Equal(eval, first);
        }
    }

    [Fact]
    public void Same_seed_gives_identical_scores_and_another_seed_different_ones()
    {
        var model = AttributionParityTests.Model("gpt2");
        var fn = new McDropoutProbabilityAverage();
        float[] a = Scores(model.Attribute(GptRequest(7, fn)), fn.Id);
        float[] b = Scores(model.Attribute(GptRequest(7, fn)), fn.Id);
        float[] c = Scores(model.Attribute(GptRequest(8, fn)), fn.Id);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.All(a, v => Assert.True(float.IsFinite(v), $"z-score {v} is not finite"));
    }

    [Fact]
    public void Noisy_passes_do_not_leave_the_model_in_training_mode()
    {
        // Inseq leaves the model in train mode after the first mc_dropout evaluation; here the clean scores of a
        // later step function and of a later call are unaffected. Reference mode throughout (mc_dropout runs there),
        // so the clean scores come from the same passes and must be bit-identical.
        var model = AttributionParityTests.Model("gpt2");
        AttributionRequest clean = GptRequest(0, new Probability()) with { Mode = ExecutionMode.Reference };
        float[] reference = Scores(model.Attribute(clean), "probability");
        var both = model.Attribute(new AttributionRequest(["Hello world"])
        {
            GeneratedTexts = ["Hello world, this is a test"],
            Method = new DummyAttribution(),
            StepScores = [new McDropoutProbabilityAverage(), new Probability()],
            Mode = ExecutionMode.Reference,
        });
        Assert.Equal(reference, Scores(both, "probability"));
        Assert.Equal(reference, Scores(model.Attribute(clean), "probability"));
    }

    [Theory]
    [InlineData("gpt2", "Hello world", "Hello world, this is a test")]
    [InlineData("marian", "Hello world", "Bonjour le monde")]
    [InlineData("t5", "translate English to German: Hello world", "Hallo Welt")]
    public void Without_dropout_the_noisy_probabilities_equal_the_clean_one_and_the_score_is_nan(string name, string input, string generated)
    {
        // All rates 0: every noisy probability equals the clean one, so the score is what torch gives for
        // (p - mean(n copies of p)) / std(n copies of p): 0 / 0 = NaN, or +-sqrt((n-1)/n) where the float32 mean of
        // identical values rounds off p by one step.
        using var folder = new TemporaryFolder();
        string source = Fixtures.ModelDir(name);
        foreach (string file in Directory.GetFiles(source))
        {
            File.Copy(file, Path.Combine(folder.Path, Path.GetFileName(file)));
        }

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "config.json")))!.AsObject();
        foreach (string key in config.Select(kv => kv.Key).Where(k => k.Contains("drop", StringComparison.Ordinal)).ToList())
        {
            config[key] = 0.0;
        }

        File.WriteAllText(Path.Combine(folder.Path, "config.json"), config.ToJsonString());
        using var model = NativeAttributionModel.Load(folder.Path, modelName: $"models/{name}");
        foreach (var fn in new[] { new McDropoutProbabilityAverage(), new McDropoutProbabilityAverage { LogProb = true, Samples = 3 } })
        {
            var output = model.Attribute(new AttributionRequest([input])
            {
                GeneratedTexts = [generated],
                Method = new DummyAttribution(),
                StepScores = [fn, new Probability { LogProb = fn.LogProb }],
            });
            float[] scores = Scores(output, fn.Id), clean = Scores(output, "probability");
            Assert.NotEmpty(scores);
            using var scope = torch.NewDisposeScope();
            float[] expected = clean.Select(value =>
            {
                // One step's batch of one row, as the evaluator sees it ([n, 1] samples; torch's rounding depends on the shape).
                Tensor p = torch.tensor(new[] { value });
                Tensor copies = torch.stack(Enumerable.Repeat(p, fn.Samples).ToArray());
                return ((p - copies.mean([0L])) / copies.std(0L, unbiased: true)).item<float>();
            }).ToArray();
            Assert.Equal(expected, scores);
            Assert.Contains(scores, float.IsNaN);
        }
    }

    [Fact]
    public void Evaluator_computes_the_z_score_with_the_unbiased_std()
    {
        using var scope = torch.NewDisposeScope();
        // Two rows, vocabulary 3; target token 1 in row 0, token 2 in row 1.
        Tensor clean = torch.tensor(new float[] { 0.1f, 1.2f, -0.3f, 2f, 0f, 1f }, [2, 3]);
        float[][] noisy =
        [
            [0.3f, 1.0f, -0.2f, 1.5f, 0.2f, 1.1f],
            [0.0f, 1.4f, -0.5f, 2.2f, -0.1f, 0.7f],
            [0.2f, 0.9f, 0.1f, 1.9f, 0.3f, 1.3f],
        ];
        int call = 0;
        var context = new StepFunctionContext(clean, torch.tensor(new long[] { 1, 2 }))
        {
            NoisyLogits = () => torch.tensor(noisy[call++], [2, 3]),
        };
        foreach (bool logProb in new[] { false, true })
        {
            call = 0;
            float[] actual = StepFunctionEvaluator.Evaluate(new McDropoutProbabilityAverage { Samples = 3, LogProb = logProb }, context).data<float>().ToArray();
            Assert.Equal(3, call);
            for (int row = 0; row < 2; row++)
            {
                int target = row == 0 ? 1 : 2;
                double Score(float[] logits)
                {
                    double[] z = logits.Skip(row * 3).Take(3).Select(v => (double)v).ToArray();
                    double log = z[target] - Math.Log(z.Sum(Math.Exp));
                    return logProb ? log : Math.Exp(log);
                }

                double p = Score(clean.data<float>().ToArray());
                double[] samples = noisy.Select(Score).ToArray();
                double mean = samples.Average();
                double std = Math.Sqrt(samples.Sum(s => (s - mean) * (s - mean)) / (samples.Length - 1));
                double expected = (p - mean) / std;
                Assert.Equal(expected, actual[row], Math.Abs(expected) * 1e-4);
            }
        }

        // One sample: torch's unbiased std of one value is NaN.
        call = 0;
        float[] single = StepFunctionEvaluator.Evaluate(new McDropoutProbabilityAverage { Samples = 1 }, context).data<float>().ToArray();
        Assert.All(single, v => Assert.True(float.IsNaN(v)));
    }

    [Fact]
    public void Parsing_reads_inseq_arguments_and_rejects_bad_ones()
    {
        var fn = Assert.IsType<McDropoutProbabilityAverage>(StepFunction.FromId("mc_dropout_prob_avg"));
        Assert.Equal(5, fn.Samples);
        Assert.False(fn.LogProb);
        Assert.Empty(fn.Arguments);
        fn = Assert.IsType<McDropoutProbabilityAverage>(StepFunction.FromId(
            "mc_dropout_prob_avg", new Dictionary<string, string> { ["n_mcd_steps"] = "12", ["logprob"] = "true" }));
        Assert.Equal(12, fn.Samples);
        Assert.True(fn.LogProb);
        Assert.Equal(12, fn.Arguments["n_mcd_steps"]);
        Assert.Throws<InvalidRequestException>(() => StepFunction.FromId("mc_dropout_prob_avg", new Dictionary<string, string> { ["n_mcd_steps"] = "0" }));
        Assert.Throws<InvalidRequestException>(() => StepFunction.FromId("mc_dropout_prob_avg", new Dictionary<string, string> { ["top_p"] = "0.5" }));
    }

    [Fact]
    public void Mean_noisy_probability_stays_near_the_clean_one_and_z_scores_are_finite()
    {
        // Inverted dropout keeps every pre-activation's expectation, so the mean noisy probability departs from the
        // clean one only through the nonlinearities (a second-order effect in the rates, 0.1 here at three sites
        // per block): over 400 samples we require |mean - clean| within 4 standard errors plus 15% of the clean
        // probability. The 15% allows for that bias; a broken mask scale (e.g. no 1/(1-p)) moves it far more.
        var model = Fixtures.Model("gpt2");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var generator = new Generator(123);
        Tensor ids = torch.tensor(new long[] { 3, 7, 11, 5, 9, 2 }, [1, 6]);
        Tensor embeds = model.EmbedDecoderTokens(ids);
        Tensor clean = model.Decode(embeds, null, null, null, null, null, ForwardOptions.None).Logits.softmax(-1);
        Tensor target = clean.argmax(-1, keepdim: true); // the likeliest token at every position
        double[] p = clean.gather(-1, target).squeeze(-1).to(ScalarType.Float64).data<double>().ToArray();
        const int n = 400;
        var samples = new double[n][];
        for (int i = 0; i < n; i++)
        {
            using var inner = torch.NewDisposeScope();
            Tensor noisy = model.Decode(embeds, null, null, null, null, null, new ForwardOptions { Dropout = generator }).Logits.softmax(-1);
            samples[i] = noisy.gather(-1, target).squeeze(-1).to(ScalarType.Float64).data<double>().ToArray();
        }

        for (int pos = 0; pos < p.Length; pos++)
        {
            double[] column = samples.Select(s => s[pos]).ToArray();
            double mean = column.Average();
            double std = Math.Sqrt(column.Sum(s => (s - mean) * (s - mean)) / (n - 1));
            Assert.True(std > 0, "dropout made no difference");
            double band = (4 * std / Math.Sqrt(n)) + (0.15 * p[pos]);
            Assert.True(Math.Abs(mean - p[pos]) <= band, $"position {pos}: clean {p[pos]}, mean noisy {mean} (std {std}), band {band}");
            Assert.True(double.IsFinite((p[pos] - mean) / std));
        }
    }

    [Theory]
    [InlineData("marian", "Hello world", "Bonjour le monde")]
    [InlineData("bart", "Hello world", "Hello world")]
    [InlineData("gpt2", "Hello world", "Hello world, this is a test")]
    public void Saliency_of_mc_dropout_gives_finite_nonzero_attributions(string name, string input, string generated)
    {
        var model = AttributionParityTests.Model(name);
        var output = model.Attribute(new AttributionRequest([input])
        {
            GeneratedTexts = [generated],
            Method = new Saliency(),
            AttributedFunction = new McDropoutProbabilityAverage(),
            StepScores = [new McDropoutProbabilityAverage()],
            Generation = new GenerationArguments { Seed = 3 },
        });
        var sequence = output.SequenceAttributions[0];
        NdArray attributions = (model.IsEncoderDecoder ? sequence.SourceAttributions : sequence.TargetAttributions)!;
        float[] values = attributions.Span.ToArray().Where(v => !float.IsNaN(v)).ToArray();
        Assert.NotEmpty(values);
        Assert.All(values, v => Assert.True(float.IsFinite(v)));
        Assert.Contains(values, v => v != 0f);
        Assert.All(Scores(output, "mc_dropout_prob_avg"), v => Assert.True(float.IsFinite(v)));
    }
}
