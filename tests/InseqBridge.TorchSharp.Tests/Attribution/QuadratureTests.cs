using InseqBridge.Attribution;
using InseqBridge.Native.Attribution;

namespace InseqBridge.Native.Tests.Attribution;

public class QuadratureTests
{
    [Fact]
    public void Gauss_legendre_matches_numpy_leggauss()
    {
        // numpy.polynomial.legendre.leggauss(3): nodes ±sqrt(3/5), 0; weights 5/9, 8/9, 5/9.
        var (nodes, weights) = QuadratureRule.Legendre(3);
        Assert.Equal(-Math.Sqrt(0.6), nodes[0], 12);
        Assert.Equal(0, nodes[1], 12);
        Assert.Equal(Math.Sqrt(0.6), nodes[2], 12);
        Assert.Equal(5.0 / 9, weights[0], 12);
        Assert.Equal(8.0 / 9, weights[1], 12);
    }

    [Theory]
    [InlineData(IntegrationMethod.GaussLegendre, 50)]
    [InlineData(IntegrationMethod.GaussLegendre, 10)]
    [InlineData(IntegrationMethod.RiemannTrapezoid, 7)]
    [InlineData(IntegrationMethod.RiemannLeft, 5)]
    public void Step_sizes_sum_to_one_and_alphas_lie_in_unit_interval(IntegrationMethod method, int steps)
    {
        var (alphas, sizes) = QuadratureRule.Get(method, steps);
        Assert.Equal(1.0, sizes.Sum(), 10);
        Assert.All(alphas, a => Assert.InRange(a, 0.0, 1.0));
        Assert.Equal(alphas.Order(), alphas);
    }
}
