using InseqBridge.Attribution;
using InseqBridge.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution.Methods;

/// <summary>
/// Inseq 0.6's LIME (see <see cref="Lime"/>). The random draws follow Python Inseq call for call: one
/// <c>multinomial([mask_prob, 1 - mask_prob], tokens, replacement=True)</c> per sample on the CPU generator, so with
/// the same seed and the same sequence of calls the perturbations are the ones PyTorch draws. All samples of a step are
/// evaluated in batched forward passes (rows independent). The surrogate is a weighted ridge regression solved like
/// scikit-learn's <c>Ridge(alpha=1.0).fit(X, y, sample_weight)</c> with more features than samples.
/// </summary>
internal static class LimeAttributor
{
    /// <summary>Samples per forward pass at least, when <c>perturbations_per_eval</c> is smaller.</summary>
    private const int MinimumSamplesPerForward = 64;

    /// <summary>Returns the [1, tokens, hidden] coefficients for the single attributed input.</summary>
    public static Tensor[] Attribute(
        GradientAttributor.ForwardFunction forward, IReadOnlyList<Tensor> inputs, Lime method, Generator generator, long maskTokenId)
    {
        if (inputs.Count != 1)
        {
            throw new InvalidRequestException("lime does not support attribute_target with encoder-decoder models (as Inseq 0.6).");
        }

        using var noGrad = torch.no_grad();
        Tensor original = inputs[0];
        if (original.shape[0] != 1)
        {
            throw new InvalidOperationException("lime attributes one sequence at a time.");
        }

        long tokens = original.shape[1];
        Tensor probabilities = torch.tensor(new[] { (float)method.MaskProbability, (float)(1 - method.MaskProbability) });
        using Scalar maskValue = ((float)maskTokenId).ToScalar();
        Tensor fill = torch.full(original.shape, maskValue, ScalarType.Float32, device: original.device);
        var samples = new Tensor[method.Samples];
        var similarities = new double[method.Samples];
        Tensor reference = original.select(0, 0);
        for (int k = 0; k < method.Samples; k++)
        {
            // 1 keeps the token (probability 1 - mask_prob), 0 replaces every unit of its embedding by the mask id.
            Tensor keep = torch.multinomial(probabilities, tokens, replacement: true, generator: generator)
                .to(original.device).view(1, tokens, 1).to(ScalarType.Bool);
            samples[k] = torch.where(keep, original, fill);
            similarities[k] = reference.eq(samples[k].select(0, 0)).sum().to(ScalarType.Int64).item<long>();
        }

        var outputs = new double[method.Samples];
        int perForward = Math.Max(method.PerturbationsPerEval, MinimumSamplesPerForward);
        for (int first = 0; first < method.Samples; first += perForward)
        {
            using var scope = torch.NewDisposeScope();
            int count = Math.Min(perForward, method.Samples - first);
            Tensor batch = torch.cat(samples.AsSpan(first, count).ToArray(), 0);
            float[] values = forward([batch], count).to(ScalarType.Float32).cpu().data<float>().ToArray();
            for (int i = 0; i < count; i++)
            {
                outputs[first + i] = values[i];
            }
        }

        Tensor design = torch.cat(samples.Select(s => s.reshape(1, -1)).ToArray(), 0).to(ScalarType.Float64).cpu();
        Tensor coefficients = WeightedRidge.Fit(design, torch.tensor(outputs), torch.tensor(similarities), alpha: 1.0);
        return [coefficients.to(ScalarType.Float32).reshape(original.shape).to(original.device)];
    }
}

/// <summary>
/// Ridge regression with an intercept and sample weights, as scikit-learn 1.2's <c>Ridge(alpha).fit(X, y,
/// sample_weight=w)</c> with the Cholesky solver when there are more features than samples: X and y are centred by
/// their weighted means, rows scaled by sqrt(w), and the coefficients are X^T (X X^T + alpha I)^-1 y in float64.
/// </summary>
internal static class WeightedRidge
{
    /// <summary>Coefficients [features] of the fit of <paramref name="y"/> [n] on <paramref name="x"/> [n, features].</summary>
    public static Tensor Fit(Tensor x, Tensor y, Tensor weights, double alpha)
    {
        using var scope = torch.NewDisposeScope();
        Tensor w = weights.to(ScalarType.Float64);
        Tensor total = w.sum();
        Tensor xOffset = (x * w.unsqueeze(1)).sum(0L) / total;
        Tensor yOffset = (y * w).sum() / total;
        Tensor root = w.sqrt();
        Tensor xs = (x - xOffset) * root.unsqueeze(1);
        Tensor ys = (y - yOffset) * root;
        long n = x.shape[0];
        Tensor coefficients;
        if (x.shape[1] > n)
        {
            Tensor kernel = torch.matmul(xs, xs.t()).Plus(torch.eye(n, dtype: ScalarType.Float64).Times(alpha));
            Tensor dual = Solve(kernel, ys.unsqueeze(1));
            coefficients = torch.matmul(xs.t(), dual).squeeze(1);
        }
        else
        {
            Tensor gram = torch.matmul(xs.t(), xs).Plus(torch.eye(x.shape[1], dtype: ScalarType.Float64).Times(alpha));
            coefficients = Solve(gram, torch.matmul(xs.t(), ys.unsqueeze(1))).squeeze(1);
        }

        return coefficients.MoveToOuterDisposeScope();
    }

    private static Tensor Solve(Tensor matrix, Tensor rhs)
    {
        var (factor, info) = torch.linalg.cholesky_ex(matrix);
        if (info.item<int>() != 0)
        {
            // scikit-learn falls back to least squares when the system is singular (only possible with alpha = 0).
            return torch.linalg.lstsq(matrix, rhs).Solution;
        }

        return torch.cholesky_solve(rhs, factor);
    }
}
