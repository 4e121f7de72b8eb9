using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Errors;

namespace InseqBridge.Native.Tests.Attribution;

/// <summary>Contrastive attribution: properties that follow from the definitions, and the typed errors.</summary>
public class ContrastiveTests
{
    private static float[] Scores(FeatureAttributionOutput output, string id, int sequence = 0) =>
        output.SequenceAttributions[sequence].StepScores[id].Span.ToArray();

    [Fact]
    public void Identical_contrast_gives_zero_attributions_and_scores()
    {
        var model = AttributionParityTests.Model("gpt2");
        var output = model.Attribute(new AttributionRequest(["Hello world"])
        {
            GeneratedTexts = ["Hello world, this is a test"],
            Method = new InputXGradient(),
            AttributedFunction = new ContrastProbabilityDifference(),
            StepScores = [new ContrastProbabilityDifference(), new Pcxmi(), new KlDivergence()],
            Contrast = new ContrastOptions { Targets = ["Hello world, this is a test"] },
        });
        var sequence = output.SequenceAttributions[0];
        Assert.All(sequence.TargetAttributions!.Span.ToArray().Where(v => !float.IsNaN(v)), v => Assert.Equal(0f, v));
        Assert.All(Scores(output, "contrast_prob_diff"), v => Assert.Equal(0f, v));
        Assert.All(Scores(output, "pcxmi"), v => Assert.Equal(0f, v, 1e-6f));
        Assert.All(Scores(output, "kl_divergence"), v => Assert.Equal(0f, v, 1e-6f));
        Assert.DoesNotContain(sequence.Target, t => t.Id == -1);
    }

    [Fact]
    public void Contrast_prob_of_a_contrastive_prefix_equals_the_probability_under_that_prefix()
    {
        // Same token count, different first word: every contrast step runs on the contrastive prefix.
        var model = AttributionParityTests.Model("gpt2");
        var contrastive = model.Attribute(new AttributionRequest(["Hello world"])
        {
            GeneratedTexts = ["Hello world, this is a test"],
            Method = new DummyAttribution(),
            StepScores = [new ContrastProbability(), new Probability()],
            Contrast = new ContrastOptions { Targets = ["Goodbye world, this is a test"] },
        });
        var direct = model.Attribute(new AttributionRequest(["Goodbye world"])
        {
            GeneratedTexts = ["Goodbye world, this is a test"],
            Method = new DummyAttribution(),
            StepScores = [new Probability()],
        });
        float[] expected = Scores(direct, "probability"), actual = Scores(contrastive, "contrast_prob");
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], Math.Abs(expected[i]) * 1e-5);
        }

        Assert.Equal(
            Scores(contrastive, "probability").Zip(actual, (p, c) => -Math.Log2(p / c)).ToArray(),
            model.Attribute(new AttributionRequest(["Hello world"])
            {
                GeneratedTexts = ["Hello world, this is a test"],
                Method = new DummyAttribution(),
                StepScores = [new Pcxmi()],
                Contrast = new ContrastOptions { Targets = ["Goodbye world, this is a test"] },
            }).SequenceAttributions[0].StepScores["pcxmi"].Span.ToArray().Select(v => (double)v).ToArray(),
            new ToleranceComparer(1e-4));
    }

    [Fact]
    public void Contrast_sources_score_the_target_under_another_source()
    {
        var model = AttributionParityTests.Model("marian");
        var contrastive = model.Attribute(new AttributionRequest(["Hello world"])
        {
            GeneratedTexts = ["Bonjour le monde"],
            Method = new DummyAttribution(),
            StepScores = [new ContrastProbability { LogProb = true }, new InContextPvi(), new Probability { LogProb = true }],
            Contrast = new ContrastOptions { Sources = ["The cat sat on the mat."] },
        });
        var direct = model.Attribute(new AttributionRequest(["The cat sat on the mat."])
        {
            GeneratedTexts = ["Bonjour le monde"],
            Method = new DummyAttribution(),
            StepScores = [new Probability { LogProb = true }],
        });
        float[] expected = Scores(direct, "probability"), actual = Scores(contrastive, "contrast_prob");
        Assert.Equal(expected, actual, new ToleranceComparer(1e-5));
        float[] original = Scores(contrastive, "probability");
        Assert.Equal(original.Zip(actual, (o, c) => (double)(c - o)).ToArray(), Scores(contrastive, "in_context_pvi").Select(v => (double)v).ToArray(), new ToleranceComparer(1e-4));
    }

    [Fact]
    public void Contrastive_integrated_gradients_is_complete()
    {
        // Inseq rejects contrastive attribution with methods that expand the batch; the native engine tiles the
        // contrastive inputs. Completeness checks the expansion: sum ≈ f(input) - f(baseline).
        var model = AttributionParityTests.Model("marian");
        var request = new AttributionRequest(["Hello world"])
        {
            GeneratedTexts = ["Bonjour le monde"],
            Method = new IntegratedGradients { Steps = 64 },
            AttributedFunction = new ContrastLogitsDifference(),
            Contrast = new ContrastOptions { Targets = ["Bonjour la monde"] },
        };
        var output = model.Attribute(request);
        var sequence = output.SequenceAttributions[0];
        Assert.Contains(sequence.Target, t => t.Token.Contains(" → ", StringComparison.Ordinal) && t.Id == -1);
        var xgrad = model.Attribute(request with { Method = new InputXGradient() });
        Assert.Equal(sequence.SourceAttributions!.Shape, xgrad.SequenceAttributions[0].SourceAttributions!.Shape);
        Assert.False(sequence.SourceAttributions.Span.ToArray().All(v => v == 0f));
    }

    [Fact]
    public void Encoder_decoder_batches_equal_single_runs()
    {
        var model = AttributionParityTests.Model("bart");
        string[] inputs = ["Hello world", "The cat sat on the mat."];
        string[] outputs = ["Bonjour le monde", "Le chat est assis sur le tapis"];
        string[] contrasts = ["Bonjour la monde", "Le chien est assis"];
        AttributionRequest Request(IEnumerable<int> rows) => new(rows.Select(i => inputs[i]).ToList())
        {
            GeneratedTexts = rows.Select(i => outputs[i]).ToList(),
            Method = new Saliency(),
            AttributedFunction = new ContrastProbabilityDifference(),
            StepScores = [new ContrastProbabilityDifference(), new KlDivergence { TopK = 10 }],
            Contrast = new ContrastOptions { Targets = rows.Select(i => contrasts[i]).ToList() },
        };
        var batched = model.Attribute(Request([0, 1]));
        var alignments = new List<string>();
        for (int i = 0; i < inputs.Length; i++)
        {
            var single = model.Attribute(Request([i]));
            alignments.Add(single.Info["attributed_fn_args"]!["contrast_targets_alignments"]![0]!.ToJsonString());
            var a = single.SequenceAttributions[0];
            var b = batched.SequenceAttributions[i];
            Assert.Equal(a.Target, b.Target);
            Assert.True(a.SourceAttributions!.AllClose(b.SourceAttributions!, rtol: 1e-4, atol: 1e-9));
            Assert.True(a.StepScores["contrast_prob_diff"].AllClose(b.StepScores["contrast_prob_diff"], rtol: 1e-5, atol: 1e-8));
            Assert.True(a.StepScores["kl_divergence"].AllClose(b.StepScores["kl_divergence"], rtol: 1e-4, atol: 1e-6));
        }

        // Each row is aligned over its own tokens, as if attributed alone.
        Assert.Equal("[" + string.Join(",", alignments) + "]", batched.Info["attributed_fn_args"]!["contrast_targets_alignments"]!.ToJsonString());
    }

    [Fact]
    public void Misuse_is_reported_with_typed_errors()
    {
        var model = AttributionParityTests.Model("gpt2");
        var request = new AttributionRequest(["Hello world"]) { GeneratedTexts = ["Hello world, this"], Method = new Saliency() };
        var missing = Assert.Throws<InvalidRequestException>(() => model.Attribute(request with { StepScores = [new Pcxmi()] }));
        Assert.Contains("contrast targets", missing.Message, StringComparison.Ordinal);
        var unused = Assert.Throws<InvalidRequestException>(() => model.Attribute(request with { Contrast = new ContrastOptions { Targets = ["Hello world, that"] } }));
        Assert.Contains("no contrastive step function", unused.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidRequestException>(() => model.Attribute(request with
        {
            StepScores = [new Pcxmi()],
            Contrast = new ContrastOptions { Sources = ["Goodbye"] },
        }));
        var kl = Assert.Throws<InvalidRequestException>(() => model.Attribute(request with
        {
            AttributedFunction = new KlDivergence(),
            Contrast = new ContrastOptions { Targets = ["Hello world, that"] },
        }));
        Assert.Contains("contrast_force_inputs", kl.Message, StringComparison.Ordinal);

        // With forced inputs the KL divergence is differentiable on encoder-decoders (its contrastive pass shares
        // the attributed source embeddings).
        var marian = AttributionParityTests.Model("marian");
        var forced = marian.Attribute(new AttributionRequest(["Hello world"])
        {
            GeneratedTexts = ["Bonjour le monde"],
            Method = new Saliency(),
            AttributedFunction = new KlDivergence(),
            Contrast = new ContrastOptions { Targets = ["Bonjour la monde"], ForceInputs = true },
        });
        Assert.Contains(forced.SequenceAttributions[0].SourceAttributions!.Span.ToArray(), v => v > 0);
    }

    private sealed class ToleranceComparer(double relative) : IEqualityComparer<double>, IEqualityComparer<float>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= (relative * Math.Max(Math.Abs(x), Math.Abs(y))) + 1e-9;

        public bool Equals(float x, float y) => Equals((double)x, (double)y);

        public int GetHashCode(double obj) => 0;

        public int GetHashCode(float obj) => 0;
    }
}
