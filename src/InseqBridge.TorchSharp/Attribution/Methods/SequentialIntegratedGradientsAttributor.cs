using InseqBridge.Attribution;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution.Methods;

/// <summary>
/// Sequential integrated gradients (Enguehard 2023) as Inseq computes it: for each position i, one integrated
/// gradients pass in which only token i moves from its baseline embedding to its embedding (alpha-major rows, the
/// other tokens fixed at their inputs); the gradient at i, weighted by the quadrature step sizes and summed, times
/// (input - baseline) at i, is the attribution of token i. With several attributed inputs (source and target
/// prefix) position i of every input long enough is integrated in the same pass (Inseq requires equal lengths).
/// </summary>
internal static class SequentialIntegratedGradientsAttributor
{
    /// <summary>At most this many interpolated rows per forward pass when grouping positions (several positions of
    /// one step share a pass; each row is independent, so grouping does not change the result).</summary>
    private const int RowsPerPass = 256;

    public static Tensor[] Attribute(GradientStepContext context, SequentialIntegratedGradients method)
    {
        IReadOnlyList<Tensor> inputs = context.Inputs;
        IReadOnlyList<Tensor> baselines = context.Baselines();
        var (alphas, stepSizes) = QuadratureRule.Get(method.Method, method.Steps);
        long rows = inputs[0].shape[0];
        int chunk = method.InternalBatchSize is int ibs ? (int)Math.Max(1, ibs / rows) : method.Steps;
        int longest = inputs.Max(x => (int)x.shape[1]);
        var columns = inputs.Select(_ => new Tensor?[longest]).ToList();
        for (int start = 0; start < method.Steps; start += chunk)
        {
            int count = Math.Min(chunk, method.Steps - start);
            double[] a = alphas.AsSpan(start, count).ToArray();
            int group = method.InternalBatchSize is null ? (int)Math.Max(1, RowsPerPass / (count * rows)) : 1;
            for (int first = 0; first < longest; first += group)
            {
                using var scope = torch.NewDisposeScope();
                int positions = Math.Min(group, longest - first);
                Tensor sizes = torch.tensor(stepSizes.AsSpan(start, count).ToArray().Select(s => (float)s).ToArray(), [count, 1], ScalarType.Float32, device: inputs[0].device);

                // Rows: position-major, then alpha, then example.
                Tensor[] scaled = inputs.Select((x, i) => torch.cat(
                    Enumerable.Range(first, positions).Select(p => Interpolate(x, baselines[i], p, a)).ToArray(), 0)).ToArray();
                Tensor[] grads = GradientAttributor.Gradients(context.Plain, scaled, positions * count);
                for (int i = 0; i < inputs.Count; i++)
                {
                    long[] shape = inputs[i].shape;
                    Tensor perPosition = grads[i].contiguous().view([positions, count, .. shape]);
                    for (int k = 0; k < positions; k++)
                    {
                        int position = first + k;
                        if (position >= shape[1])
                        {
                            continue;
                        }

                        Tensor summed = (perPosition[k].view(count, -1) * sizes).view([count, .. shape]).sum(0L);
                        Tensor partial = summed.select(1, position) * (inputs[i].select(1, position) - baselines[i].select(1, position));
                        Tensor? previous = columns[i][position];
                        columns[i][position] = (previous is null ? partial : partial.Plus(previous)).MoveToOuterDisposeScope();
                    }
                }
            }
        }

        return columns.Select(c => torch.stack(c.Where(t => t is not null).Select(t => t!).ToArray(), 1)).ToArray();
    }

    /// <summary>Rows alpha-major: the input with token <paramref name="position"/> at baseline + alpha x (input - baseline).</summary>
    private static Tensor Interpolate(Tensor input, Tensor baseline, int position, double[] alphas)
    {
        long length = input.shape[1];
        if (position >= length)
        {
            return torch.cat(Enumerable.Repeat(input, alphas.Length).ToArray(), 0);
        }

        Tensor before = input.narrow(1, 0, position);
        Tensor after = input.narrow(1, position + 1, length - position - 1);
        Tensor start = baseline.select(1, position);
        Tensor difference = input.select(1, position) - start;
        Tensor moved = torch.cat(alphas.Select(a => start.Plus(difference.Times(a))).ToArray(), 0).unsqueeze(1);
        return torch.cat(
            [
                torch.cat(Enumerable.Repeat(before, alphas.Length).ToArray(), 0),
                moved,
                torch.cat(Enumerable.Repeat(after, alphas.Length).ToArray(), 0),
            ],
            1);
    }
}
