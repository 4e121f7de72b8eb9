using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native;

/// <summary>
/// Tensor arithmetic with numbers that never leaves a TorchSharp <see cref="Scalar"/> to the finalizer. TorchSharp hands
/// a scalar's native pointer to libtorch, so an implicit temporary (<c>t * 0.5</c>, <c>a + b</c> with its hidden alpha
/// of 1) is unreachable during the native call: a collection on another thread can finalize it and free the native
/// scalar under the running operator. Here every scalar is either disposed after the call or lives for the process.
/// The build enforces this in the backend (analyzer rules IB0001/IB0002, src/InseqBridge.Analyzers).
/// Each helper performs the same libtorch operation as the operator it replaces, so results are bit for bit the same.
/// </summary>
internal static class SafeScalars
{
    /// <summary>The integer 1: <c>add</c>'s default alpha. Lives for the process (a static root is never finalized).</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>The float64 1.0.</summary>
    public static readonly Scalar OneFloat = 1.0.ToScalar();

    /// <summary>The integer 0.</summary>
    public static readonly Scalar Zero = 0.ToScalar();

    /// <summary>float32 negative infinity.</summary>
    public static readonly Scalar NegativeInfinity = float.NegativeInfinity.ToScalar();

    /// <summary>float32 NaN.</summary>
    public static readonly Scalar NaN = float.NaN.ToScalar();

    /// <summary>The most negative float32: transformers' value for masked attention scores.</summary>
    public static readonly Scalar MostNegativeFloat = float.MinValue.ToScalar();

    /// <summary><c>a + b</c>.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><c>a + value</c> (a float64 scalar, as C#'s <c>a + 1.0</c>).</summary>
    public static Tensor Plus(this Tensor a, double value)
    {
        using Scalar s = value.ToScalar();
        return a.add(s, One);
    }

    /// <summary><c>a + value</c> (an integer scalar, as C#'s <c>a + 1</c>: integer tensors stay integer).</summary>
    public static Tensor Plus(this Tensor a, long value)
    {
        using Scalar s = value.ToScalar();
        return a.add(s, One);
    }

    /// <summary>In-place <c>a += b</c>.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary><c>a - value</c>.</summary>
    public static Tensor Minus(this Tensor a, double value)
    {
        using Scalar s = value.ToScalar();
        return a.sub(s);
    }

    /// <summary><c>a - value</c> with an integer scalar.</summary>
    public static Tensor Minus(this Tensor a, long value)
    {
        using Scalar s = value.ToScalar();
        return a.sub(s);
    }

    /// <summary><c>value - a</c> (TorchSharp's <c>-a + value</c>).</summary>
    public static Tensor SubtractedFrom(this Tensor a, double value)
    {
        using Scalar s = value.ToScalar();
        using Tensor negated = a.negative();
        return negated.add(s, One);
    }

    /// <summary><c>a * value</c>.</summary>
    public static Tensor Times(this Tensor a, double value)
    {
        using Scalar s = value.ToScalar();
        return a.mul(s);
    }

    /// <summary><c>a * value</c> with an integer scalar.</summary>
    public static Tensor Times(this Tensor a, long value)
    {
        using Scalar s = value.ToScalar();
        return a.mul(s);
    }

    /// <summary><c>a / value</c>.</summary>
    public static Tensor DividedBy(this Tensor a, double value)
    {
        using Scalar s = value.ToScalar();
        return a.div(s);
    }

    /// <summary><c>a / value</c> with an integer scalar.</summary>
    public static Tensor DividedBy(this Tensor a, long value)
    {
        using Scalar s = value.ToScalar();
        return a.div(s);
    }

    /// <summary><c>value / a</c> (TorchSharp's <c>a.reciprocal() * value</c>).</summary>
    public static Tensor DividedInto(this Tensor a, double value)
    {
        using Scalar s = value.ToScalar();
        using Tensor reciprocal = a.reciprocal();
        return reciprocal.mul(s);
    }

    /// <summary><c>a ** exponent</c>.</summary>
    public static Tensor Power(this Tensor a, double exponent)
    {
        using Scalar s = exponent.ToScalar();
        return a.pow(s);
    }

    /// <summary><c>a ** exponent</c> with an integer exponent.</summary>
    public static Tensor Power(this Tensor a, long exponent)
    {
        using Scalar s = exponent.ToScalar();
        return a.pow(s);
    }

    /// <summary><c>a.masked_fill(mask, value)</c>.</summary>
    public static Tensor FillWhere(this Tensor a, Tensor mask, double value)
    {
        using Scalar s = value.ToScalar();
        return a.masked_fill(mask, s);
    }

    /// <summary><c>a.masked_fill(mask, value)</c> with an integer value.</summary>
    public static Tensor FillWhere(this Tensor a, Tensor mask, long value)
    {
        using Scalar s = value.ToScalar();
        return a.masked_fill(mask, s);
    }

    /// <summary><c>torch.arange(start, stop)</c> (int64 unless <paramref name="dtype"/> says otherwise).</summary>
    public static Tensor Arange(long start, long stop, Device? device = null, ScalarType dtype = ScalarType.Int64)
    {
        using Scalar from = start.ToScalar();
        using Scalar to = stop.ToScalar();
        using Scalar step = 1L.ToScalar();
        return torch.arange(from, to, step, dtype: dtype, device: device);
    }

    /// <summary><c>torch.arange(start, stop, step)</c> (int64 unless <paramref name="dtype"/> says otherwise).</summary>
    public static Tensor Arange(long start, long stop, long step, Device? device = null, ScalarType dtype = ScalarType.Int64)
    {
        using Scalar from = start.ToScalar();
        using Scalar to = stop.ToScalar();
        using Scalar by = step.ToScalar();
        return torch.arange(from, to, by, dtype: dtype, device: device);
    }
}
