using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution;

/// <summary>Copies of tensors on the host, one flattened array per leading row, as <see cref="StepRecord"/> stores them.</summary>
internal static class HostRows
{
    /// <summary>The rows of <paramref name="t"/> [rows, ...] as float32 arrays.</summary>
    public static float[][] Split(Tensor t)
    {
        Tensor c = t.detach().to(ScalarType.Float32).cpu().contiguous();
        float[] all = c.data<float>().ToArray();
        int rows = (int)c.shape[0];
        int per = rows == 0 ? 0 : all.Length / rows;
        return Enumerable.Range(0, rows).Select(r => all.AsSpan(r * per, per).ToArray()).ToArray();
    }
}
