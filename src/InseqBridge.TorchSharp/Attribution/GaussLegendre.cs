using InseqBridge.Attribution;

namespace InseqBridge.Native.Attribution;

/// <summary>
/// Interpolation points (alphas in [0, 1]) and weights of integrated gradients, as Captum defines each rule.
/// Gauss-Legendre nodes are computed by Newton iteration on the Legendre polynomial in double precision and listed
/// in ascending order (as numpy's leggauss).
/// </summary>
public static class QuadratureRule
{
    /// <summary>Alphas and step sizes for <paramref name="steps"/> points of <paramref name="method"/>.</summary>
    /// <param name="method">The quadrature.</param>
    /// <param name="steps">Number of points.</param>
    /// <param name="cancellationToken">Checked while Gauss-Legendre nodes are computed (quadratic in
    /// <paramref name="steps"/>: seconds for 100,000 points).</param>
    public static (double[] Alphas, double[] StepSizes) Get(IntegrationMethod method, int steps, CancellationToken cancellationToken = default)
    {
        if (steps < 1)
        {
            throw new Errors.InvalidRequestException($"n_steps must be at least 1 (got {steps}).");
        }

        switch (method)
        {
            case IntegrationMethod.GaussLegendre:
                {
                    var (nodes, weights) = Legendre(steps, cancellationToken);
                    return (nodes.Select(x => 0.5 * (1 + x)).ToArray(), weights.Select(w => 0.5 * w).ToArray());
                }

            case IntegrationMethod.RiemannTrapezoid:
                {
                    if (steps < 2)
                    {
                        throw new Errors.InvalidRequestException("riemann_trapezoid needs n_steps >= 2.");
                    }

                    double[] alphas = Linspace(0, 1, steps);
                    double[] sizes = Enumerable.Repeat(1.0 / (steps - 1), steps).ToArray();
                    sizes[0] = sizes[^1] = 1.0 / (2 * (steps - 1));
                    return (alphas, sizes);
                }

            default:
                {
                    double[] sizes = Enumerable.Repeat(1.0 / steps, steps).ToArray();
                    double[] alphas = method switch
                    {
                        IntegrationMethod.RiemannLeft => Linspace(0, 1 - (1.0 / steps), steps),
                        IntegrationMethod.RiemannRight => Linspace(1.0 / steps, 1, steps),
                        _ => Linspace(1.0 / (2 * steps), 1 - (1.0 / (2 * steps)), steps),
                    };
                    return (alphas, sizes);
                }
        }
    }

    private static double[] Linspace(double start, double end, int n) =>
        n == 1 ? [start] : Enumerable.Range(0, n).Select(i => start + ((end - start) * i / (n - 1))).ToArray();

    /// <summary>Nodes (ascending) and weights of n-point Gauss-Legendre quadrature on [-1, 1].</summary>
    /// <param name="n">Number of points.</param>
    /// <param name="cancellationToken">Checked every 64 nodes.</param>
    public static (double[] Nodes, double[] Weights) Legendre(int n, CancellationToken cancellationToken = default)
    {
        var nodes = new double[n];
        var weights = new double[n];
        for (int i = 0; i < (n + 1) / 2; i++)
        {
            if (i % 64 == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            double x = Math.Cos(Math.PI * (i + 0.75) / (n + 0.5));
            double derivative = 0;
            for (int iter = 0; iter < 100; iter++)
            {
                double p0 = 1, p1 = x;
                for (int k = 2; k <= n; k++)
                {
                    double p2 = (((2 * k) - 1) * x * p1 - ((k - 1) * p0)) / k;
                    p0 = p1;
                    p1 = p2;
                }

                double pn = n == 1 ? x : p1;
                double pnm1 = n == 1 ? 1 : p0;
                derivative = n * ((x * pn) - pnm1) / ((x * x) - 1);
                double dx = pn / derivative;
                x -= dx;
                if (Math.Abs(dx) < 1e-16)
                {
                    break;
                }
            }

            double w = 2 / ((1 - (x * x)) * derivative * derivative);
            nodes[i] = -x;
            nodes[n - 1 - i] = x;
            weights[i] = weights[n - 1 - i] = w;
        }

        return (nodes, weights);
    }
}
