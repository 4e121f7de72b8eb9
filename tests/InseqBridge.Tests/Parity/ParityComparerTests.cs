using InseqBridge.Data;
using InseqBridge.Parity;
using InseqBridge.Serialization;

namespace InseqBridge.Tests.Parity;

public class ParityComparerTests
{
    private static FeatureAttributionOutput Load(string id) => InseqJson.Load(Path.Combine(ParityFixtures.Attributions, id + ".json"));

    private static FeatureAttributionOutput WithSource(FeatureAttributionOutput output, Func<NdArray, NdArray> change)
    {
        var first = output.SequenceAttributions[0];
        return output with
        {
            SequenceAttributions = [first with { SourceAttributions = change(first.SourceAttributions!) }, .. output.SequenceAttributions.Skip(1)],
        };
    }

    private static NdArray ChangeLargest(NdArray array, Func<float, float, float> change)
    {
        float[] data = array.ToArray();
        int at = 0;
        for (int i = 1; i < data.Length; i++)
        {
            if (Math.Abs(data[i]) > Math.Abs(data[at]))
            {
                at = i;
            }
        }

        float scale = Math.Abs(data[at]);
        data[at] = change(data[at], scale);
        return new NdArray(data, [.. array.Shape]);
    }

    [Fact]
    public void An_output_matches_itself_exactly()
    {
        FeatureAttributionOutput reference = Load("bart__saliency__forced");
        ParityResult result = ParityComparer.Compare(reference, Load("bart__saliency__forced"));
        Assert.True(result.Passed);
        Assert.Equal(0, result.MaxAbsoluteDifference);
        Assert.True(result.ComparedValues > 1000);
    }

    [Fact]
    public void A_difference_inside_the_tolerance_passes_and_one_outside_fails()
    {
        FeatureAttributionOutput reference = Load("bart__saliency__forced");

        // allowed = 1e-5*|ref| + 1e-5*max|ref| = 2e-5*max at the largest cell
        var inside = WithSource(reference, a => ChangeLargest(a, (v, max) => v + (1.5e-5f * max)));
        ParityResult ok = ParityComparer.Compare(reference, inside);
        Assert.True(ok.Passed, string.Join("; ", ok.Violations));
        Assert.True(ok.MaxAbsoluteDifference > 0);

        var outside = WithSource(reference, a => ChangeLargest(a, (v, max) => v + (3e-5f * max)));
        ParityResult bad = ParityComparer.Compare(reference, outside);
        Assert.False(bad.Passed);
        Assert.Contains("source_attributions", bad.Violations[0]);
        Assert.True(bad.MaxRelativeDifference > 1e-5);
    }

    [Fact]
    public void Structure_differences_are_violations()
    {
        FeatureAttributionOutput reference = Load("gpt2__saliency__forced");
        var first = reference.SequenceAttributions[0];

        var renamed = reference with { SequenceAttributions = [first with { Target = [new TokenWithId("x", 1), .. first.Target.Skip(1)] }, .. reference.SequenceAttributions.Skip(1)] };
        Assert.Contains(ParityComparer.Compare(reference, renamed).Violations, v => v.Contains("target tokens", StringComparison.Ordinal));

        var noScores = reference with { SequenceAttributions = [first with { StepScores = new Dictionary<string, NdArray>() }, .. reference.SequenceAttributions.Skip(1)] };
        Assert.Contains(ParityComparer.Compare(reference, noScores).Violations, v => v.Contains("step_scores keys", StringComparison.Ordinal));

        var fewer = reference with { SequenceAttributions = [first] };
        Assert.False(ParityComparer.Compare(reference, fewer).Passed);

        NdArray target = first.TargetAttributions!;
        float[] data = target.ToArray();
        int finite = Array.FindIndex(data, float.IsFinite);
        data[finite] = float.NaN;
        var nan = reference with { SequenceAttributions = [first with { TargetAttributions = new NdArray(data, [.. target.Shape]) }, .. reference.SequenceAttributions.Skip(1)] };
        Assert.Contains(ParityComparer.Compare(reference, nan).Violations, v => v.Contains("NaN pattern", StringComparison.Ordinal));
    }

    [Fact]
    public void An_absolute_floor_admits_differences_below_it_and_not_above()
    {
        FeatureAttributionOutput reference = Load("bart__saliency__forced");
        var shifted = WithSource(reference, a => ChangeLargest(a, (v, max) => v + (0.5f * max)));
        Assert.False(ParityComparer.Compare(reference, shifted).Passed);
        float largest = reference.SequenceAttributions[0].SourceAttributions!.ToArray().Max(Math.Abs);
        Assert.True(ParityComparer.Compare(reference, shifted, new ParityTolerance(1e-5, 1e-5, largest)).Passed);
        Assert.False(ParityComparer.Compare(reference, shifted, new ParityTolerance(1e-5, 1e-5, largest * 0.4)).Passed);
    }

    [Theory]
    [InlineData("saliency", false, 1e-5, 0)]
    [InlineData("gradient_shap", true, 1e-5, 0)]
    [InlineData("occlusion", false, 1e-5, 1e-7)]
    [InlineData("value_zeroing", true, 0, 1e-2)]
    [InlineData("lime", true, 1e-2, 0)]
    [InlineData("lime", false, 0.6, 0)]
    public void Each_method_has_its_tolerance(string method, bool encoderDecoder, double floor, double absolute)
    {
        ParityTolerance tolerance = ParityTolerance.For(method, encoderDecoder);
        Assert.Equal(1e-5, tolerance.Relative);
        Assert.Equal(floor, tolerance.Floor);
        Assert.Equal(absolute, tolerance.Absolute);
    }
}
