using InseqBridge.Attribution;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution.Methods;

/// <summary>
/// Discretized integrated gradients (Sanyal and Ren 2021): every token of every attributed input follows its
/// monotonic path (see <see cref="MonotonicPathBuilder"/>) from the baseline embedding to its embedding; the model is
/// evaluated at the m path points (point-major rows) and the attribution is sum_k grad(p_k) x (p_{k+1} - p_k), the
/// discrete path integral (its sum approximates f(input) - f(baseline)).
/// </summary>
internal static class DiscretizedIntegratedGradientsAttributor
{
    public static Tensor[] Attribute(GradientStepContext context, DiscretizedIntegratedGradients method)
    {
        MonotonicPathBuilder builder = context.State.PathBuilder ??= CreateBuilder(context);
        int m = method.Steps;
        var paths = new Tensor[context.Inputs.Count];
        for (int i = 0; i < context.Inputs.Count; i++)
        {
            paths[i] = Paths(builder, context, context.Ids[i], context.BaselineIds[i], method, context.Inputs[i]);
        }

        // Point-major rows: point k of every example, k = 0 (baseline) .. m - 1 (input).
        Tensor[] scaled = paths.Select(p => p.reshape([-1, .. p.shape[2..]])).ToArray();
        Tensor[] grads = GradientAttributor.Gradients(context.Plain, scaled, m);
        var result = new Tensor[paths.Length];
        for (int i = 0; i < paths.Length; i++)
        {
            Tensor g = grads[i].view(paths[i].shape);
            Tensor segments = paths[i].narrow(0, 1, m - 1) - paths[i].narrow(0, 0, m - 1);
            result[i] = (g.narrow(0, 0, m - 1) * segments).sum(0L);
        }

        return result;
    }

    private static MonotonicPathBuilder CreateBuilder(GradientStepContext context)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        Tensor matrix = context.Model.EmbeddingMatrix;
        Tensor scaled = context.Model.EmbedScale == 1.0 ? matrix : matrix.Times(context.Model.EmbedScale);
        float[] data = scaled.detach().to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
        return new MonotonicPathBuilder(data, (int)matrix.shape[0], (int)matrix.shape[1]);
    }

    /// <summary>Paths [m, rows, length, hidden] of one attributed input.</summary>
    private static Tensor Paths(MonotonicPathBuilder builder, GradientStepContext context, Tensor ids, Tensor baselineIds, DiscretizedIntegratedGradients method, Tensor like)
    {
        long[] idData = ids.cpu().data<long>().ToArray();
        long[] baseData = baselineIds.cpu().data<long>().ToArray();
        int rows = (int)ids.shape[0], length = (int)ids.shape[1], hidden = (int)like.shape[2], m = method.Steps;
        var data = new float[(long)m * rows * length * hidden];
        for (int r = 0; r < rows; r++)
        {
            for (int t = 0; t < length; t++)
            {
                int word = (int)idData[(r * length) + t], baseline = (int)baseData[(r * length) + t];
                double[][] path = builder.Path(word, baseline, m, method.Strategy, method.Neighbors, context.IsSpecial(word));
                for (int k = 0; k < m; k++)
                {
                    long offset = ((((long)k * rows) + r) * length + t) * hidden;
                    for (int j = 0; j < hidden; j++)
                    {
                        data[offset + j] = (float)path[k][j];
                    }
                }
            }
        }

        return torch.tensor(data, [m, rows, length, hidden], ScalarType.Float32, device: like.device);
    }
}
