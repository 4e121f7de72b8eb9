using System.Text.Json.Nodes;
using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Native.Attribution;

namespace InseqBridge.Native.Tests.Datasets;

/// <summary>
/// <see cref="NativeAttributionModel.AttributeEach"/>: several inputs per call (equal lengths share passes) give the
/// results of one call per input.
/// </summary>
public sealed class BatchedAttributionTests : IClassFixture<BatchedAttributionTests.Models>
{
    private readonly Models _models;

    public BatchedAttributionTests(Models models) => _models = models;

    /// <summary>The tiny GPT-2 and BART reference checkpoints, loaded once.</summary>
    public sealed class Models : IDisposable
    {
        public NativeAttributionModel Gpt2 { get; } = NativeAttributionModel.Load(Fixtures.ModelDir("gpt2"));

        public NativeAttributionModel Bart { get; } = NativeAttributionModel.Load(Fixtures.ModelDir("bart"));

        public void Dispose()
        {
            Gpt2.Dispose();
            Bart.Dispose();
        }
    }

    // Lengths repeat, so buckets hold several rows; one text is alone in its bucket.
    private static readonly string[] Inputs =
    [
        "The cat sat on the mat", "A dog ran in the park", "Hello world", "Good morning", "The weather is nice today",
        "She reads a book", "He plays the guitar", "Once upon a time there was a very long sentence here",
    ];

    public static TheoryData<string, string, bool> Cases() => new()
    {
        { "gpt2", "saliency", false },
        { "gpt2", "integrated_gradients", false },
        { "gpt2", "integrated_gradients", true },
        { "bart", "saliency", false },
        { "bart", "integrated_gradients", true },
        { "gpt2", "input_x_gradient", false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Batched_results_equal_one_call_per_input(string modelName, string methodId, bool forced)
    {
        NativeAttributionModel model = modelName == "gpt2" ? _models.Gpt2 : _models.Bart;
        var arguments = methodId == "integrated_gradients" ? new Dictionary<string, string> { ["n_steps"] = "6" } : [];
        AttributionMethod method = AttributionMethod.FromId(methodId, arguments);
        string[]? generated = forced
            ? Inputs.Select((t, i) => model.IsEncoderDecoder ? $"Output {i} here" : t + " and more").ToArray()
            : null;
        var request = new AttributionRequest(Inputs)
        {
            Method = method,
            GeneratedTexts = generated,
            StepScores = [new Probability()],
            Generation = new GenerationArguments { MaxNewTokens = 4 },
            BatchSize = 3,
        };

        IReadOnlyList<FeatureAttributionOutput> batched = model.AttributeEach(request);
        Assert.Equal(Inputs.Length, batched.Count);
        for (int i = 0; i < Inputs.Length; i++)
        {
            FeatureAttributionOutput single = model.Attribute(request with
            {
                InputTexts = [Inputs[i]],
                GeneratedTexts = generated is null ? null : [generated[i]],
                BatchSize = null,
            });
            AssertSame(single, batched[i], $"input {i}");
        }
    }

    /// <summary>Same info (timing aside), same tokens, and scores equal up to fp32 summation order (IG sums its
    /// interpolation points in chunks whose boundaries move with the number of rows).</summary>
    internal static void AssertSame(FeatureAttributionOutput expected, FeatureAttributionOutput actual, string what)
    {
        JsonObject Info(FeatureAttributionOutput o)
        {
            var info = (JsonObject)o.Info.DeepClone();
            info.Remove("exec_time");
            return info;
        }

        Assert.True(JsonNode.DeepEquals(Info(expected), Info(actual)), $"{what}: info {Info(expected).ToJsonString()} vs {Info(actual).ToJsonString()}");
        var e = Assert.Single(expected.SequenceAttributions);
        var a = Assert.Single(actual.SequenceAttributions);
        Assert.Equal(e.Source.Select(t => t.Token), a.Source.Select(t => t.Token));
        Assert.Equal(e.Target.Select(t => t.Token), a.Target.Select(t => t.Token));
        AssertClose(e.SourceAttributions, a.SourceAttributions, what + " source");
        AssertClose(e.TargetAttributions, a.TargetAttributions, what + " target");
        Assert.Equal(e.StepScores.Keys.Order(), a.StepScores.Keys.Order());
        foreach (var (key, value) in e.StepScores)
        {
            AssertClose(value, a.StepScores[key], what + " " + key);
        }
    }

    private static void AssertClose(NdArray? expected, NdArray? actual, string what)
    {
        Assert.Equal(expected is null, actual is null);
        if (expected is null || actual is null)
        {
            return;
        }

        Assert.Equal(expected.Shape.ToArray(), actual.Shape.ToArray());
        float[] x = expected.ToArray(), y = actual.ToArray();
        double scale = x.Where(float.IsFinite).Select(v => Math.Abs((double)v)).DefaultIfEmpty(0).Max();
        for (int i = 0; i < x.Length; i++)
        {
            Assert.True(float.IsNaN(x[i]) == float.IsNaN(y[i]), $"{what}[{i}]: NaN pattern differs");
            if (!float.IsNaN(x[i]))
            {
                Assert.True(Math.Abs(x[i] - y[i]) <= 1e-5 * scale + 1e-12, $"{what}[{i}]: {x[i]} vs {y[i]} (scale {scale})");
            }
        }
    }
}
