using InseqBridge.Attribution;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution.Methods;

/// <summary>
/// GradientSHAP as Captum's NoiseTunnel(InputBaselineXGradient) computes it, with the same random draws in the same
/// order: for each attributed input a baseline row index per sample (<c>np.random.choice(B, n*B)</c>, rows of the
/// whole batch), Gaussian noise on the inputs repeated per sample (<c>torch.normal</c>, drawn even when the standard
/// deviation is 0), then one uniform fraction per sample row (<c>np.random.uniform(0, 1, n*B)</c>). Each sample is
/// evaluated at fraction x input + (1 - fraction) x baseline; attribution = mean over samples of
/// (input - baseline) x gradient. Samples are ordered example-major (Captum's repeat_interleave).
/// </summary>
internal static class GradientShapAttributor
{
    public static Tensor[] Attribute(GradientStepContext context, GradientShap method)
    {
        IReadOnlyList<Tensor> inputs = context.Inputs;
        IReadOnlyList<Tensor> baselines = context.Baselines();
        int n = method.Samples;
        int rows = (int)inputs[0].shape[0];
        Device device = inputs[0].device;

        // 1. Baselines drawn from the batch's baselines, for each input tensor in turn.
        Tensor[] drawn = baselines.Select(b =>
        {
            int[] index = context.State.Numpy.Choice((int)b.shape[0], n * rows);
            return b.index_select(0, torch.tensor(index.Select(i => (long)i).ToArray(), device: device));
        }).ToArray();

        // 2. Noisy inputs: each example repeated n times (example-major) plus N(0, stdevs) noise.
        Tensor[] noisy = inputs.Select(x =>
        {
            Tensor expanded = x.repeat_interleave(n, 0);
            Tensor noise = torch.empty(expanded.shape, ScalarType.Float32).normal_(0, 1, context.State.Torch);
            noise = noise.to(expanded.dtype).to(device).Times(method.StandardDeviation).Plus(0.0);
            return expanded.Plus(noise);
        }).ToArray();

        // 3. One random fraction per sample row.
        float[] fractions = context.State.Numpy.Uniform(0.0, 1.0, n * rows).Select(v => (float)v).ToArray();
        Tensor coefficient = torch.tensor(fractions, device: device);

        // Forward rows sample-major (row s*B + b), as the forward tiles the non-attributed inputs.
        long[] toSampleMajor = new long[n * rows];
        long[] toExampleMajor = new long[n * rows];
        for (int b = 0; b < rows; b++)
        {
            for (int s = 0; s < n; s++)
            {
                toSampleMajor[(s * rows) + b] = (b * n) + s;
                toExampleMajor[(b * n) + s] = (s * rows) + b;
            }
        }

        Tensor sampleMajor = torch.tensor(toSampleMajor, device: device);
        Tensor exampleMajor = torch.tensor(toExampleMajor, device: device);
        var scaled = new Tensor[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
        {
            Tensor c = coefficient.view([n * rows, .. Enumerable.Repeat(1L, (int)noisy[i].dim() - 1)]);
            Tensor point = (c * noisy[i]).Plus(c.SubtractedFrom(1.0) * drawn[i]);
            scaled[i] = point.index_select(0, sampleMajor);
        }

        Tensor[] gradients = GradientAttributor.Gradients(context.Plain, scaled, n);
        var result = new Tensor[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
        {
            Tensor grad = gradients[i].index_select(0, exampleMajor);
            Tensor attribution = (noisy[i] - drawn[i]) * grad;
            long[] shape = inputs[i].shape;
            result[i] = attribution.view([rows, n, .. shape[1..]]).sum(1).Times(1).DividedBy(n);
        }

        return result;
    }
}
