using InseqBridge.Attribution;
using InseqBridge.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution.Methods;

/// <summary>
/// Captum's occlusion with Inseq's setup: windows of <see cref="Occlusion.WindowTokens"/> whole token embeddings slide
/// over each attributed input with the given stride; each window is replaced by the baseline, the change of the
/// attributed function (original minus occluded, float32) is added to every token of the window, and each token's sum
/// is divided by the number of windows covering it (0/0 = NaN for uncovered tokens, as Captum). Inseq keeps the
/// absolute value. Several windows are evaluated in one forward pass (window-major rows); results do not depend on it.
/// </summary>
internal static class OcclusionAttributor
{
    /// <summary>Rows (windows x batch) per forward pass at least, when the request allows fewer.</summary>
    private const int MinimumRowsPerForward = 64;

    /// <summary>Returns one [batch, tokens] float32 tensor per input.</summary>
    public static Tensor[] Attribute(
        GradientAttributor.ForwardFunction forward, IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor> baselines, Occlusion method)
    {
        using var noGrad = torch.no_grad();
        long batch = inputs[0].shape[0];
        var windows = new List<(int Input, int Start)>();
        for (int i = 0; i < inputs.Count; i++)
        {
            long tokens = inputs[i].shape[1], hidden = inputs[i].shape[2];
            if (method.ExpectedHiddenSize is int h && h != hidden)
            {
                throw new InvalidRequestException(
                    $"occlusion: sliding_window_shapes must span the whole embedding ({hidden} units), got {h}: Inseq requires every embedding slice to get the same score.");
            }

            if (method.WindowTokens > tokens)
            {
                throw new InvalidRequestException(
                    $"occlusion: the sliding window ({method.WindowTokens} tokens) is longer than the input ({tokens} tokens).");
            }

            for (long start = 0; start + method.WindowTokens <= tokens; start += method.Stride)
            {
                windows.Add((i, (int)start));
            }
        }

        float[] initial = forward(inputs, 1).to(ScalarType.Float32).cpu().data<float>().ToArray();
        var totals = inputs.Select(x => new float[batch * x.shape[1]]).ToArray();
        var counts = inputs.Select(x => new int[x.shape[1]]).ToArray();
        int perForward = (int)Math.Max(method.PerturbationsPerEval, Math.Max(1, MinimumRowsPerForward / batch));
        for (int first = 0; first < windows.Count; first += perForward)
        {
            using var scope = torch.NewDisposeScope();
            var chunk = windows.Skip(first).Take(perForward).ToList();
            var tiled = new Tensor[inputs.Count];
            for (int i = 0; i < inputs.Count; i++)
            {
                var parts = new Tensor[chunk.Count];
                for (int w = 0; w < chunk.Count; w++)
                {
                    if (chunk[w].Input != i)
                    {
                        parts[w] = inputs[i];
                        continue;
                    }

                    Tensor occluded = inputs[i].clone();
                    occluded.narrow(1, chunk[w].Start, method.WindowTokens).copy_(baselines[i].narrow(1, chunk[w].Start, method.WindowTokens));
                    parts[w] = occluded;
                }

                tiled[i] = torch.cat(parts, 0);
            }

            float[] modified = forward(tiled, chunk.Count).to(ScalarType.Float32).cpu().data<float>().ToArray();
            for (int w = 0; w < chunk.Count; w++)
            {
                var (input, start) = chunk[w];
                long tokens = inputs[input].shape[1];
                for (int k = start; k < start + method.WindowTokens; k++)
                {
                    counts[input][k]++;
                    for (int b = 0; b < batch; b++)
                    {
                        float diff = initial[b] - modified[(w * batch) + b];
                        totals[input][(b * tokens) + k] += diff;
                    }
                }
            }
        }

        var result = new Tensor[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
        {
            long tokens = inputs[i].shape[1];
            var values = new float[totals[i].Length];
            for (int j = 0; j < values.Length; j++)
            {
                values[j] = MathF.Abs(totals[i][j] / counts[i][j % tokens]);
            }

            result[i] = torch.tensor(values, [batch, tokens]);
        }

        return result;
    }
}
