using InseqBridge.Attribution;
using InseqBridge.Native.Attribution;
using TorchSharp;

namespace InseqBridge.Native.Tests.Attribution;

public class GradientAttributorTests
{
    private static torch.Tensor SumOfSquares(IReadOnlyList<torch.Tensor> t, int repeat) => (t[0] * t[0]).sum(1);

    [Theory]
    [InlineData(IntegrationMethod.GaussLegendre, null)]
    [InlineData(IntegrationMethod.GaussLegendre, 4)]
    [InlineData(IntegrationMethod.RiemannTrapezoid, null)]
    public void Integrated_gradients_is_complete_for_a_quadratic(IntegrationMethod method, int? internalBatchSize)
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(new float[] { 1, -2, 3, 4 }, [2, 2]);
        var attributions = GradientAttributor.IntegratedGradients(SumOfSquares, [x], [torch.zeros(2, 2)], method, 50, internalBatchSize);

        // d/dx x^2 = 2x is linear, so every rule that integrates linear functions exactly gives x^2.
        Assert.Equal(new float[] { 1, 4, 9, 16 }, attributions[0].data<float>().ToArray().Select(v => MathF.Round(v, 4)).ToArray());
    }

    [Fact]
    public void Saliency_is_the_absolute_gradient()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(new float[] { 1, -2 }, [1, 2]);
        var attributions = GradientAttributor.Saliency(SumOfSquares, [x]);
        Assert.Equal(new float[] { 2, 4 }, attributions[0].data<float>().ToArray());
    }
}
