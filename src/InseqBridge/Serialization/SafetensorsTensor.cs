namespace InseqBridge.Serialization;

/// <summary>One tensor of a safetensors blob. Floating types are held as float32 in <see cref="Floats"/>
/// (converted on read, cast to <see cref="DType"/> on write); I64 tensors use <see cref="Longs"/>.</summary>
/// <param name="DType">Stored element type.</param>
/// <param name="Shape">Shape, outermost first.</param>
/// <param name="Floats">Values of floating tensors in row-major order, else null.</param>
/// <param name="Longs">Values of I64 tensors in row-major order, else null.</param>
public sealed record SafetensorsTensor(SafetensorsDType DType, IReadOnlyList<long> Shape, float[]? Floats, long[]? Longs)
{
    /// <summary>A floating tensor.</summary>
    public static SafetensorsTensor FromFloats(SafetensorsDType dtype, float[] values, params long[] shape) =>
        new(dtype, shape, values, null);

    /// <summary>An I64 tensor.</summary>
    public static SafetensorsTensor FromLongs(long[] values, params long[] shape) =>
        new(SafetensorsDType.I64, shape, null, values);

    /// <summary>Number of elements.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}
