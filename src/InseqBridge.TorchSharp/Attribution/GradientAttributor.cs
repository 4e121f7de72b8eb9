using InseqBridge.Attribution;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution;

/// <summary>
/// Captum's gradient methods over a forward function that maps attributed input tensors (each [batch, ...]) to one
/// score per row. <c>repeat</c> tells the forward how many times the batch was tiled along dimension 0 (integrated
/// gradients evaluates every interpolation point in one pass), so it can tile its non-attributed inputs alike.
/// </summary>
internal static class GradientAttributor
{
    public delegate Tensor ForwardFunction(IReadOnlyList<Tensor> inputs, int repeat);

    /// <summary>Gradient of the summed outputs w.r.t. each input (the rows are independent).</summary>
    public static Tensor[] Gradients(ForwardFunction forward, IReadOnlyList<Tensor> inputs, int repeat)
    {
        var leaves = inputs.Select(i => i.detach().requires_grad_(true)).ToArray();
        Tensor output = forward(leaves, repeat);
        IList<Tensor> grads = torch.autograd.grad([output.sum()], leaves);
        return [.. grads];
    }

    public static Tensor[] Saliency(ForwardFunction forward, IReadOnlyList<Tensor> inputs) =>
        Gradients(forward, inputs, 1).Select(g => g.abs()).ToArray();

    public static Tensor[] InputXGradient(ForwardFunction forward, IReadOnlyList<Tensor> inputs)
    {
        Tensor[] grads = Gradients(forward, inputs, 1);
        return grads.Select((g, i) => g * inputs[i]).ToArray();
    }

    /// <summary>
    /// Integrated gradients as Captum computes it: inputs tiled once per alpha (alpha-major), gradients scaled by
    /// the step sizes and summed per example, times (input - baseline). With <paramref name="internalBatchSize"/>
    /// the alphas are processed in chunks of at most that many rows and the partial attributions summed. Without it,
    /// Captum runs every alpha in one batch; so do we up to <see cref="UnchunkedRowLimit"/> rows, and beyond that (e.g.
    /// <c>n_steps=100000</c>) in chunks of at most that many rows, so that memory stays bounded and
    /// <paramref name="cancellationToken"/> is honoured between chunks (the sums then differ from one batch by fp32
    /// rounding only).
    /// </summary>
    public static Tensor[] IntegratedGradients(
        ForwardFunction forward, IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor> baselines, IntegrationMethod method, int steps, int? internalBatchSize,
        CancellationToken cancellationToken = default)
    {
        var (alphas, stepSizes) = QuadratureRule.Get(method, steps, cancellationToken);
        long examples = inputs[0].shape[0];
        int chunk = steps;
        if (internalBatchSize is int ibs)
        {
            chunk = (int)Math.Max(1, ibs / examples);
        }
        else if (steps * examples > UnchunkedRowLimit)
        {
            chunk = (int)Math.Max(1, UnchunkedRowLimit / examples);
        }

        Tensor[]? total = null;
        for (int start = 0; start < steps; start += chunk)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(chunk, steps - start);
            Tensor[] partial = IntegratedGradientsChunk(forward, inputs, baselines, alphas.AsSpan(start, count).ToArray(), stepSizes.AsSpan(start, count).ToArray());
            total = total is null ? partial : total.Zip(partial, (a, b) => a.Plus(b)).ToArray();
        }

        return total!;
    }

    /// <summary>Most interpolated rows integrated gradients runs in one batch when no <c>internal_batch_size</c> is
    /// given (Inseq's default 50 steps stay far below it).</summary>
    public const int UnchunkedRowLimit = 4096;

    /// <summary>
    /// Captum's convergence delta: per row, the sum of all attributions minus (f(inputs) - f(baselines)), the
    /// completeness error of a path method.
    /// </summary>
    public static Tensor ConvergenceDelta(ForwardFunction forward, IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor> baselines, IReadOnlyList<Tensor> attributions)
    {
        using var noGrad = torch.no_grad();
        Tensor end = forward(inputs, 1);
        Tensor start = forward(baselines, 1);
        Tensor total = attributions.Select(a => a.detach().reshape(a.shape[0], -1).sum(1)).Aggregate((x, y) => x.Plus(y));
        return total - (end - start).to(total.dtype);
    }

    private static Tensor[] IntegratedGradientsChunk(
        ForwardFunction forward, IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor> baselines, double[] alphas, double[] stepSizes)
    {
        int n = alphas.Length;
        var scaled = new Tensor[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
        {
            Tensor difference = inputs[i] - baselines[i];
            scaled[i] = torch.cat(alphas.Select(a => baselines[i].Plus(difference.Times(a))).ToArray(), 0);
        }

        Tensor[] grads = Gradients(forward, scaled, n);
        var result = new Tensor[inputs.Count];
        Tensor sizes = torch.tensor(stepSizes.Select(s => (float)s).ToArray(), [n, 1], ScalarType.Float32, device: inputs[0].device);
        for (int i = 0; i < inputs.Count; i++)
        {
            long[] shape = inputs[i].shape;
            Tensor weighted = grads[i].contiguous().view(n, -1) * sizes;
            Tensor summed = weighted.view([n, .. shape]).sum(0L);
            result[i] = summed * (inputs[i] - baselines[i]);
        }

        return result;
    }
}
