using InseqBridge.Attribution;
using InseqBridge.Data;
using Xunit.Abstractions;

namespace InseqBridge.TorchSharp.Tests.Attribution;

/// <summary>
/// Fast mode (the default) against reference mode (Inseq's per-step procedure) on every supported reference case:
/// same tokens, positions and shapes, attributions and step scores within the parity tolerance (1e-5 relative plus
/// 1e-5 of the largest magnitude). Reference mode itself is held to Python Inseq by <see cref="AttributionParityTests"/>
/// through the same comparison, here with reference mode standing in for the Python output.
/// </summary>
public class ExecutionModeParityTests(ITestOutputHelper output)
{
    [Theory]
    [MemberData(nameof(AttributionParityTests.SupportedCases), MemberType = typeof(AttributionParityTests))]
    public void Fast_mode_matches_reference_mode(string caseId)
    {
        ReferenceCase reference = ReferenceCase.Get(caseId);
        AttributionRequest request = reference.ToRequest();
        var model = AttributionParityTests.Model(reference.Model);
        FeatureAttributionOutput slow = model.Attribute(request with { Mode = ExecutionMode.Reference });
        FeatureAttributionOutput fast = model.Attribute(request with { Mode = ExecutionMode.Fast });
        double worst = AttributionParityTests.Compare(slow, fast, caseId + " (fast vs reference)");
        output.WriteLine($"{caseId}: max relative diff fast vs reference {worst:E2}");
        foreach (string key in new[] { "attr_pos_start", "attr_pos_end", "generated_texts", "attribution_args", "step_scores" })
        {
            Assert.Equal(slow.Info[key]?.ToJsonString(), fast.Info[key]?.ToJsonString());
        }
    }

    [Fact]
    public void Fast_mode_is_the_default()
    {
        Assert.Equal(ExecutionMode.Fast, new AttributionRequest(["x"]).Mode);
    }
}
