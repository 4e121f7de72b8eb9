using InseqBridge.Attribution;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.TorchSharp.Attribution.Methods;

/// <summary>
/// Sequential integrated gradients (Enguehard 2023) as Inseq computes it: for each position i, one integrated
/// gradients pass in which only token i moves from its baseline embedding to its embedding (alpha-major rows, the
/// other tokens fixed at their inputs); the gradient at i, weighted by the quadrature step sizes and summed, times
/// (input - baseline) at i, is the attribution of token i. With several attributed inputs (source and target
/// prefix) position i of every input long enough is integrated in the same pass (Inseq requires equal lengths).
/// </summary>
internal static class SequentialIntegratedGradientsAttributor
{
    public static Tensor[] Attribute(GradientStepContext context, SequentialIntegratedGradients method)
    {
        IReadOnlyList<Tensor> inputs = context.Inputs;
        IReadOnlyList<Tensor> baselines = context.Baselines();
        var (alphas, stepSizes) = QuadratureRule.Get(method.Method, method.Steps);
        long rows = inputs[0].shape[0];
        int chunk = method.InternalBatchSize is int ibs ? (int)Math.Max(1, ibs / rows) : method.Steps;
        int longest = inputs.Max(x => (int)x.shape[1]);
        var columns = inputs.Select(_ => new List<Tensor>()).ToList();
        for (int position = 0; position < longest; position++)
        {
            using var scope = torch.NewDisposeScope();
            Tensor?[] total = new Tensor?[inputs.Count];
            for (int start = 0; start < method.Steps; start += chunk)
            {
                int count = Math.Min(chunk, method.Steps - start);
                double[] a = alphas.AsSpan(start, count).ToArray();
                Tensor sizes = torch.tensor(stepSizes.AsSpan(start, count).ToArray().Select(s => (float)s).ToArray(), [count, 1], ScalarType.Float32, device: inputs[0].device);
                Tensor[] scaled = inputs.Select((x, i) => Interpolate(x, baselines[i], position, a)).ToArray();
                Tensor[] grads = GradientAttributor.Gradients(context.Plain, scaled, count);
                for (int i = 0; i < inputs.Count; i++)
                {
                    if (position >= inputs[i].shape[1])
                    {
                        continue;
                    }

                    long[] shape = inputs[i].shape;
                    Tensor summed = (grads[i].contiguous().view(count, -1) * sizes).view([count, .. shape]).sum(0L);
                    Tensor partial = summed.select(1, position) * (inputs[i].select(1, position) - baselines[i].select(1, position));
                    total[i] = total[i] is null ? partial : partial + total[i]!;
                }
            }

            for (int i = 0; i < inputs.Count; i++)
            {
                if (total[i] is Tensor t)
                {
                    columns[i].Add(t.MoveToOuterDisposeScope());
                }
            }
        }

        return columns.Select(c => torch.stack(c, 1)).ToArray();
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
        Tensor moved = torch.cat(alphas.Select(a => start + (a * difference)).ToArray(), 0).unsqueeze(1);
        return torch.cat(
            [
                torch.cat(Enumerable.Repeat(before, alphas.Length).ToArray(), 0),
                moved,
                torch.cat(Enumerable.Repeat(after, alphas.Length).ToArray(), 0),
            ],
            1);
    }
}
