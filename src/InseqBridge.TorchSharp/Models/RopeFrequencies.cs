using InseqBridge.Native.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Models;

/// <summary>
/// Rotary inverse frequencies [dim / 2] as transformers' <c>modeling_rope_utils</c> computes them (float32, the
/// same operations in the same order): plain, <c>linear</c>, <c>dynamic</c> (NTK) and <c>llama3</c> scaling.
/// </summary>
internal static class RopeFrequencies
{
    /// <summary>1 / theta^(arange(0, dim, 2) / dim).</summary>
    public static Tensor Default(double theta, int dim)
    {
        using var scope = torch.NewDisposeScope();
        Tensor exponents = SafeScalars.Arange(0, dim, 2).to(ScalarType.Float32).DividedBy(dim);
        Tensor @base = torch.tensor(theta);
        return torch.pow(@base, exponents).reciprocal().MoveToOuterDisposeScope();
    }

    /// <summary>The frequencies used at load time (and, for dynamic scaling, for sequences within max_position_embeddings).</summary>
    public static Tensor Initial(double theta, int dim, RopeScaling? scaling)
    {
        using var scope = torch.NewDisposeScope();
        Tensor inv = Default(theta, dim);
        switch (scaling?.Type)
        {
            case "linear":
                inv = inv.DividedBy(scaling.Factor);
                break;
            case "llama3":
                inv = Llama3(inv, scaling);
                break;
        }

        return inv.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Dynamic NTK scaling for a sequence of <paramref name="sequenceLength"/> positions (the largest position id + 1)
    /// beyond <paramref name="maxPositions"/>: theta grows to theta * ((factor * len / max) - (factor - 1))^(dim / (dim - 2)).
    /// </summary>
    public static Tensor Dynamic(double theta, int dim, double factor, long sequenceLength, long maxPositions)
    {
        using var scope = torch.NewDisposeScope();
        // transformers computes this from a 0-d int64 tensor, so every step is a float32 tensor operation.
        Tensor length = torch.tensor(sequenceLength, ScalarType.Int64);
        Tensor grown = length.Times(factor).DividedBy(maxPositions).Minus(factor - 1).Power(dim / (dim - 2.0)).Times(theta);
        Tensor exponents = SafeScalars.Arange(0, dim, 2).to(ScalarType.Float32).DividedBy(dim);
        return torch.pow(grown, exponents).reciprocal().MoveToOuterDisposeScope();
    }

    /// <summary>Llama 3.1's scaling: long wavelengths divided by factor, short ones kept, a smooth ramp between.</summary>
    private static Tensor Llama3(Tensor inv, RopeScaling s)
    {
        double lowFreqWavelength = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor;
        double highFreqWavelength = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
        using Scalar low = lowFreqWavelength.ToScalar();
        using Scalar high = highFreqWavelength.ToScalar();
        Tensor wavelength = inv.reciprocal().Times(2 * Math.PI);
        Tensor scaled = torch.where(wavelength.gt(low), inv.DividedBy(s.Factor), inv);
        Tensor smooth = wavelength.reciprocal().Times(s.OriginalMaxPositionEmbeddings).Minus(s.LowFreqFactor).DividedBy(s.HighFreqFactor - s.LowFreqFactor);
        Tensor smoothed = torch.ones_like(smooth).sub(smooth).mul(scaled).DividedBy(s.Factor).Plus(smooth.mul(scaled));
        Tensor medium = wavelength.lt(high).logical_not().logical_and(wavelength.gt(low).logical_not());
        return torch.where(medium, smoothed, scaled);
    }
}
