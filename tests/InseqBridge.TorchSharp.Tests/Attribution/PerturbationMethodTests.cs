using InseqBridge.Aggregation;
using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Errors;
using InseqBridge.Native.Attribution.Methods;
using TorchSharp;

namespace InseqBridge.Native.Tests.Attribution;

/// <summary>Occlusion, LIME, value zeroing and ReAGent: building blocks checked against PyTorch / scikit-learn
/// numbers, and properties that hold whatever the reference says.</summary>
public class PerturbationMethodTests
{
    private static readonly string[] Prompt = ["Hello world"];
    private static readonly string[] Continuation = ["Hello world, this is a test"];

    [Fact]
    public void Seeded_generator_draws_what_pytorch_1_13_draws()
    {
        // Python (Debian python3-torch 1.13.1): torch.manual_seed(0); p = torch.tensor([0.3, 0.7]);
        // [torch.multinomial(p, n, replacement=True).tolist() for n in (5, 7, 9)] — the calls Inseq's LIME makes.
        using var scope = torch.NewDisposeScope();
        using var generator = new torch.Generator(0);
        var p = torch.tensor(new float[] { 0.3f, 0.7f });
        long[][] expected = [[1, 1, 1, 1, 1], [1, 0, 1, 1, 0, 1, 0], [1, 1, 1, 1, 1, 0, 1, 1, 0]];
        foreach (long[] draws in expected)
        {
            Assert.Equal(draws, torch.multinomial(p, draws.Length, true, generator).data<long>().ToArray());
        }

        // torch.manual_seed(0); torch.rand(2, 3) (ReAGent's draws).
        using var second = new torch.Generator(0);
        float[] rand = torch.rand([2, 3], generator: second).data<float>().ToArray();
        Assert.Equal(new[] { 0.49625659f, 0.76822180f, 0.08847743f, 0.13203049f, 0.30742282f, 0.63407868f }, rand, new FloatTolerance(1e-7f));
    }

    [Theory]
    [InlineData(4, 4)]
    [InlineData(2, 2)]
    public void Weighted_ridge_matches_scikit_learn(int tokens, int hidden)
    {
        // X, y, w built as below in Python; coefficients from scikit-learn 1.2.1
        // Ridge(alpha=1.0).fit(X, y, sample_weight=w).coef_ (LIME's surrogate on a 50256-filled design).
        double[] expected = (tokens, hidden) == (4, 4)
            ? [3.4821451277977644e-12, 3.48217288337338e-12, 3.4821312500099566e-12, 3.4821451277977644e-12, 2.901852369507907e-12, 2.901831552826195e-12,
               2.9018558389548588e-12, 2.901841961167051e-12, 2.9018142055914353e-12, 2.9017933889097236e-12, 2.9018107361444834e-12, 2.9018037972505795e-12,
               1.2436354029921048e-12, 1.243630198821677e-12, 1.243624994651249e-12, 1.243630198821677e-12]
            : [2.8189043318397845e-12, 2.818896198467174e-12, 8.290805541928214e-13, 8.290981515891703e-13];
        const int n = 10;
        var x = new double[n * tokens * hidden];
        var y = new double[n];
        var w = new double[n];
        for (int i = 0; i < n; i++)
        {
            int kept = 0;
            for (int j = 0; j < tokens; j++)
            {
                bool keep = ((i * 3) + (j * 5)) % 7 < 5;
                kept += keep ? 1 : 0;
                for (int k = 0; k < hidden; k++)
                {
                    x[(i * tokens * hidden) + (j * hidden) + k] = keep ? (float)(0.01 * ((((j * hidden) + k) % 7) - 3)) : 50256.0;
                }
            }

            y[i] = (float)(1e-5 + (1e-7 * ((i * 13) % 11)));
            w[i] = hidden * kept;
        }

        using var scope = torch.NewDisposeScope();
        double[] actual = WeightedRidge.Fit(torch.tensor(x, [n, tokens * hidden]), torch.tensor(y), torch.tensor(w), 1.0).data<double>().ToArray();

        // The design is nearly singular (alpha = 1 against a kernel of ~1e12): scikit-learn's own result carries
        // ~1e-5 relative rounding noise, so compare at 1e-4 of the largest coefficient.
        double scale = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-4 * scale, $"coef[{i}]: {actual[i]:E8} vs {expected[i]:E8}");
        }
    }

    private static torch.Tensor WeightedTokenSum(IReadOnlyList<torch.Tensor> inputs, int repeat)
    {
        // f(x) = sum_t c_t * sum_h x[t, h] with c = (1, 0, 3): token 1 does not matter.
        var c = torch.tensor(new float[] { 1, 0, 3 }).view(1, 3, 1);
        return (inputs[0] * c).sum([1L, 2L]);
    }

    [Fact]
    public void Occlusion_scores_each_token_by_the_change_it_causes()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(new float[] { 1, 2, 5, 7, -1, 0.5f }, [1, 3, 2]);
        var baseline = torch.zeros(1, 3, 2);
        float[] single = OcclusionAttributor.Attribute(WeightedTokenSum, [x], [baseline], new Occlusion())[0].data<float>().ToArray();

        // |f(x) - f(x with token t at the baseline)| = |c_t * sum_h x_t|; the ignored token gets exactly 0.
        Assert.Equal(new float[] { 3, 0, 1.5f }, single);

        // Windows of 2 tokens, stride 1: windows {0,1} (change 3) and {1,2} (change -1.5); token 1 averages the signed
        // changes before the absolute value, as Captum then Inseq do.
        float[] windows = OcclusionAttributor.Attribute(WeightedTokenSum, [x], [baseline], new Occlusion { WindowTokens = 2 })[0].data<float>().ToArray();
        Assert.Equal(new float[] { 3, (3 - 1.5f) / 2, 1.5f }, windows);

        // Stride 2: only window {0,1}; token 2 is never occluded and gets 0/0 = NaN, as in Captum.
        float[] strided = OcclusionAttributor.Attribute(WeightedTokenSum, [x], [baseline], new Occlusion { WindowTokens = 2, Stride = 2 })[0].data<float>().ToArray();
        Assert.Equal(3f, strided[0]);
        Assert.Equal(3f, strided[1]);
        Assert.True(float.IsNaN(strided[2]));
    }

    [Fact]
    public void Occlusion_output_is_coarse_and_non_negative()
    {
        var model = AttributionParityTests.Model("gpt2");
        var output = model.Attribute(new AttributionRequest(Prompt) { GeneratedTexts = Continuation, Method = new Occlusion() });
        var sequence = output.SequenceAttributions[0];
        Assert.Equal(AttributionKind.Coarse, sequence.Kind);
        Assert.Equal(2, sequence.TargetAttributions!.Rank);
        Assert.All(sequence.TargetAttributions.ToArray().Where(v => !float.IsNaN(v)), v => Assert.True(v >= 0));
        Assert.Equal(sequence.TargetAttributions.ToArray(), output.Aggregate().SequenceAttributions[0].TargetAttributions!.ToArray());
    }

    [Fact]
    public void Lime_is_reproducible_with_its_seed_and_zero_without_perturbations()
    {
        var model = AttributionParityTests.Model("marian");
        FeatureAttributionOutput Run(Lime lime) => model.Attribute(
            new AttributionRequest(["Hello world"]) { GeneratedTexts = ["Bonjour le monde"], Method = lime });
        float[] first = Run(new Lime { Samples = 12 }).SequenceAttributions[0].SourceAttributions!.ToArray();
        float[] again = Run(new Lime { Samples = 12 }).SequenceAttributions[0].SourceAttributions!.ToArray();
        float[] other = Run(new Lime { Samples = 12, Seed = 7 }).SequenceAttributions[0].SourceAttributions!.ToArray();
        Assert.Equal(first, again);
        Assert.NotEqual(first, other);

        // mask_prob = 0 keeps every token: all samples equal the input, so the centred design is 0 and so are the weights.
        float[] none = Run(new Lime { Samples = 8, MaskProbability = 0 }).SequenceAttributions[0].SourceAttributions!.ToArray();
        Assert.All(none, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Value_zeroing_works_for_batched_decoder_only_generation()
    {
        // Python Inseq 0.6 raises "Boolean value of Tensor ... ambiguous" here; the native engine handles it.
        var model = AttributionParityTests.Model("gpt2");
        var request = new AttributionRequest(["Hello world", "The cat sat on"])
        {
            Method = new ValueZeroing(),
            Generation = new GenerationArguments { MaxNewTokens = 3, DoSample = false },
        };
        var output = model.Attribute(request);
        Assert.Equal(2, output.SequenceAttributions.Count);
        foreach (var sequence in output.SequenceAttributions)
        {
            NdArray scores = sequence.TargetAttributions!;
            Assert.Equal(AttributionKind.MultiDimensional, sequence.Kind);
            Assert.Equal(sequence.Target.Count, scores.Shape[0]);
            Assert.Equal(2, scores.Shape[2]);
            AssertColumnsNormalised(scores);
        }
    }

    [Fact]
    public void Value_zeroing_skips_layers_left_out_of_a_per_layer_head_selection()
    {
        var model = AttributionParityTests.Model("gpt2");
        var all = model.Attribute(new AttributionRequest(Prompt) { GeneratedTexts = Continuation, Method = new ValueZeroing() });
        var method = (ValueZeroing)AttributionMethod.FromId("value_zeroing", new Dictionary<string, string> { ["decoder_zeroed_units_indices"] = "0=0:2" });
        var firstLayer = model.Attribute(new AttributionRequest(Prompt) { GeneratedTexts = Continuation, Method = method });
        NdArray a = all.SequenceAttributions[0].TargetAttributions!, f = firstLayer.SequenceAttributions[0].TargetAttributions!;
        for (int i = 0; i < a.Length; i += 2)
        {
            // Layer 0 (all heads listed) is unchanged; layer 1 is never zeroed, so its distances are all 0.
            Assert.Equal(a.Span[i], f.Span[i]);
            Assert.True(float.IsNaN(f.Span[i + 1]) || f.Span[i + 1] == 0f);
        }

        Assert.Contains(a.ToArray().Where((_, i) => i % 2 == 1), v => v > 0);
    }

    [Fact]
    public void Value_zeroing_encoder_decoder_has_inseq_sequence_scores()
    {
        var model = AttributionParityTests.Model("marian");
        var output = model.Attribute(new AttributionRequest(["Hello world"]) { GeneratedTexts = ["Bonjour le monde"], Method = new ValueZeroing() });
        var sequence = output.SequenceAttributions[0];
        int s = sequence.Source.Count, n = sequence.SourceAttributions!.Shape[1];
        Assert.Equal([s, n, 2], sequence.SourceAttributions.Shape);
        Assert.Equal([s, s, 2], sequence.SequenceScores["encoder_self_scores"].Shape);
        Assert.Equal(4, sequence.SequenceScores["decoder_self_scores"].Rank);
        Assert.Null(sequence.TargetAttributions);
    }

    [Fact]
    public void Reagent_gives_a_reproducible_distribution_per_step()
    {
        var model = AttributionParityTests.Model("gpt2");
        var method = new Reagent { Probes = 4, MaxProbeSteps = 20 };
        FeatureAttributionOutput Run(Reagent r) => model.Attribute(new AttributionRequest(Prompt) { Method = r, Generation = new GenerationArguments { MaxNewTokens = 3 } });
        var output = Run(method);
        NdArray scores = output.SequenceAttributions[0].TargetAttributions!;
        Assert.Equal(AttributionKind.Granular, output.SequenceAttributions[0].Kind);
        int rows = scores.Shape[0], steps = scores.Shape[1], hidden = scores.Shape[2];
        for (int k = 0; k < steps; k++)
        {
            double sum = 0;
            bool any = false;
            for (int i = 0; i < rows; i++)
            {
                float first = scores.Span[((i * steps) + k) * hidden];
                for (int h = 1; h < hidden; h++)
                {
                    Assert.Equal(first, scores.Span[((((i * steps) + k) * hidden) + h)]);
                }

                if (!float.IsNaN(first))
                {
                    sum += first;
                    any = true;
                }
            }

            // Mean of softmax distributions over the prefix (greedy targets stop the probes quickly).
            Assert.True(any);
            Assert.Equal(1.0, sum, 4);
        }

        Assert.Equal(scores.ToArray(), Run(method).SequenceAttributions[0].TargetAttributions!.ToArray());
        Assert.NotEqual(scores.ToArray(), Run(method with { Seed = 3 }).SequenceAttributions[0].TargetAttributions!.ToArray());
    }

    [Fact]
    public void Reagent_attributes_source_and_target_of_encoder_decoders()
    {
        var model = AttributionParityTests.Model("marian");
        var output = model.Attribute(new AttributionRequest(["Hello world"])
        {
            GeneratedTexts = ["Bonjour le monde"],
            Method = new Reagent { Probes = 2, MaxProbeSteps = 3 },
            AttributeTarget = true,
        });
        var sequence = output.SequenceAttributions[0];
        Assert.Equal(sequence.Source.Count, sequence.SourceAttributions!.Shape[0]);
        Assert.Equal(sequence.Target.Count, sequence.TargetAttributions!.Shape[0]);
    }

    [Theory]
    [InlineData("lime", "interpretable_model", "x")]
    [InlineData("lime", "mask_token", "mask")]
    [InlineData("lime", "mask_prob", "1.5")]
    [InlineData("occlusion", "strides", "0")]
    [InlineData("occlusion", "baselines", "1")]
    [InlineData("value_zeroing", "similarity_metric", "euclidean")]
    [InlineData("value_zeroing", "decoder_zeroed_units_indices", "a,b")]
    [InlineData("reagent", "keep_top_n", "-1")]
    [InlineData("reagent", "num_probes", "0")]
    public void Bad_arguments_are_rejected(string method, string key, string value)
    {
        Assert.Throws<InvalidRequestException>(() => AttributionMethod.FromId(method, new Dictionary<string, string> { [key] = value }));
    }

    [Fact]
    public void Unsupported_combinations_are_rejected()
    {
        var marian = AttributionParityTests.Model("marian");
        Assert.Throws<InvalidRequestException>(() => marian.Attribute(new AttributionRequest(["Hello world"])
        {
            GeneratedTexts = ["Bonjour le monde"],
            Method = new Lime(),
            AttributeTarget = true,
        }));
        Assert.Throws<InvalidRequestException>(() => marian.Attribute(new AttributionRequest(["Hello world"])
        {
            GeneratedTexts = ["Bonjour le monde"],
            Method = new ValueZeroing(),
            StepScores = [new Probability()],
        }));
        var gpt2 = AttributionParityTests.Model("gpt2");
        Assert.Throws<InvalidRequestException>(() => gpt2.Attribute(new AttributionRequest(Prompt)
        {
            GeneratedTexts = Continuation,
            Method = AttributionMethod.FromId("occlusion", new Dictionary<string, string> { ["sliding_window_shapes"] = "1,16" }),
        }));
    }

    /// <summary>Each (step, layer) column sums to 1 over its non-NaN cells, or is all zero.</summary>
    private static void AssertColumnsNormalised(NdArray scores)
    {
        int rows = scores.Shape[0], steps = scores.Shape[1], layers = scores.Shape[2];
        for (int k = 0; k < steps; k++)
        {
            for (int l = 0; l < layers; l++)
            {
                double sum = 0;
                for (int i = 0; i < rows; i++)
                {
                    float v = scores.Span[(((i * steps) + k) * layers) + l];
                    if (!float.IsNaN(v))
                    {
                        Assert.True(v >= 0);
                        sum += v;
                    }
                }

                Assert.True(sum == 0 || Math.Abs(sum - 1) < 1e-5, $"column {k}, layer {l} sums to {sum}");
            }
        }
    }

    private sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(float obj) => 0;
    }
}
