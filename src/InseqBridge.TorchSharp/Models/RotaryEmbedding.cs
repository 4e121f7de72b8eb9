using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Models;

/// <summary>
/// Rotary position embeddings as transformers computes them (rotate-half layout), on all of a head's dimensions or
/// on its first <see cref="Dims"/> only (partial rotary: GPT-NeoX's rotary_pct, Phi's partial_rotary_factor), the
/// rest passing through unchanged.
/// </summary>
internal sealed class RotaryEmbedding : IDisposable
{
    private readonly Tensor _inverseFrequencies;

    /// <summary>Frequencies 1 / theta^(2i / dims) in float32, as transformers computes them.</summary>
    public RotaryEmbedding(int dims, double theta)
    {
        Dims = dims;
        using (torch.NewDisposeScope())
        {
            Tensor exponents = SafeScalars.Arange(0, dims, 2).to(ScalarType.Float32).DividedBy(dims);
            Tensor @base = torch.tensor(theta);
            _inverseFrequencies = torch.pow(@base, exponents).DividedInto(1.0).to(ScalarType.Float32).DetachFromDisposeScope();
        }
    }

    /// <summary>Number of rotated dimensions per head.</summary>
    public int Dims { get; }

    /// <summary>cos/sin tables [batch, 1, positions, dims] for position ids [batch, positions], in <paramref name="dtype"/>.</summary>
    public (Tensor Cos, Tensor Sin) Tables(Tensor positions, ScalarType dtype)
    {
        using var scope = torch.NewDisposeScope();
        Tensor inv = _inverseFrequencies.to(positions.device);
        Tensor freqs = positions.to(ScalarType.Float32).unsqueeze(-1) * inv.view(1, 1, -1);
        Tensor emb = torch.cat([freqs, freqs], -1);
        Tensor cos = emb.cos().unsqueeze(1).to(dtype);
        Tensor sin = emb.sin().unsqueeze(1).to(dtype);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>Rotates the first <see cref="Dims"/> dimensions of x [batch, heads, positions, head_dim].</summary>
    public Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        if (Dims == 0)
        {
            return x.alias();
        }

        using var scope = torch.NewDisposeScope();
        long headDim = x.shape[^1];
        if (Dims == headDim)
        {
            return (x * cos).Plus(RotateHalf(x) * sin).MoveToOuterDisposeScope();
        }

        Tensor rotated = x.narrow(-1, 0, Dims);
        Tensor pass = x.narrow(-1, Dims, headDim - Dims);
        rotated = (rotated * cos).Plus(RotateHalf(rotated) * sin);
        return torch.cat([rotated, pass], -1).MoveToOuterDisposeScope();
    }

    private static Tensor RotateHalf(Tensor x)
    {
        long half = x.shape[^1] / 2;
        Tensor x1 = x.narrow(-1, 0, half);
        Tensor x2 = x.narrow(-1, half, half);
        return torch.cat([-x2, x1], -1);
    }

    /// <inheritdoc />
    public void Dispose() => _inverseFrequencies.Dispose();
}
