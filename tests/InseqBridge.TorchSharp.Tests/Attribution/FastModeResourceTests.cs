using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Native.Attribution;
using TorchSharp;

namespace InseqBridge.Native.Tests.Attribution;

/// <summary>
/// Resources of the default (fast) mode: repeated calls leave no tensor behind, and concurrent calls on one loaded
/// model (documented as safe) give what sequential calls give.
/// </summary>
[Collection(SerialCollection.Name)]
public class FastModeResourceTests
{
    private static AttributionRequest Request(string method, string generated) => new(["Hello world"])
    {
        GeneratedTexts = [generated],
        Method = AttributionMethod.FromId(method, method == "integrated_gradients" ? new Dictionary<string, string> { ["n_steps"] = "7" } : []),
        StepScores = [new Probability(), new Entropy()],
    };

    [Theory]
    [InlineData("gpt2", "integrated_gradients", "Hello world, this is a test")]
    [InlineData("bart", "saliency", "Hello world")]
    public void Repeated_calls_leave_no_tensor_alive(string name, string method, string generated)
    {
        var model = AttributionParityTests.Model(name);
        AttributionRequest request = Request(method, generated);
        model.Attribute(request);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 4; i++)
        {
            model.Attribute(request);
        }

        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public async Task Concurrent_calls_on_one_model_match_sequential_calls()
    {
        using var model = NativeAttributionModel.Load(Fixtures.ModelDir("gpt2"), modelName: "models/gpt2");
        AttributionRequest[] requests =
        [
            Request("integrated_gradients", "Hello world, this is a test"),
            Request("saliency", "Hello world, this is"),
            Request("attention", "Hello world, this is a") with { StepScores = [] },
            Request("input_x_gradient", "Hello world, this is a test") with { Mode = ExecutionMode.Reference },
        ];
        FeatureAttributionOutput[] sequential = requests.Select(r => model.Attribute(r)).ToArray();
        FeatureAttributionOutput[] concurrent = await Task.WhenAll(
            Enumerable.Range(0, 8).Select(i => Task.Run(() => model.Attribute(requests[i % requests.Length]))));
        for (int i = 0; i < concurrent.Length; i++)
        {
            AttributionParityTests.Compare(sequential[i % requests.Length], concurrent[i], $"concurrent call {i}");
        }
    }
}
