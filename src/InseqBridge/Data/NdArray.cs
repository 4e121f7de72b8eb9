using System.Globalization;

namespace InseqBridge.Data;

/// <summary>
/// A small immutable n-dimensional array of 32-bit floats in row-major (C) order. Attribution tensors and step
/// scores travel as NdArrays so the core needs no tensor library. NaN marks cells that do not exist
/// (e.g. target positions not yet generated).
/// </summary>
public sealed class NdArray : IEquatable<NdArray>
{
    private readonly float[] _data;
    private readonly int[] _shape;
    private readonly int[] _strides;

    /// <summary>Creates an array over <paramref name="data"/> (not copied: the caller gives up ownership).</summary>
    /// <exception cref="ArgumentException">The element count does not match the shape.</exception>
    public NdArray(float[] data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Negative dimension in shape [{string.Join(", ", shape)}].", nameof(shape));
            }

            count *= d;
        }

        if (count != data.Length)
        {
            throw new ArgumentException(
                $"Shape [{string.Join(", ", shape)}] needs {count} elements but {data.Length} were given.", nameof(data));
        }

        _data = data;
        _shape = (int[])shape.Clone();
        _strides = new int[shape.Length];
        int stride = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            _strides[i] = stride;
            stride *= shape[i];
        }
    }

    /// <summary>The shape, outermost dimension first.</summary>
    public IReadOnlyList<int> Shape => _shape;

    /// <summary>Number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>Number of elements.</summary>
    public int Length => _data.Length;

    /// <summary>The elements in row-major order.</summary>
    public ReadOnlySpan<float> Span => _data;

    /// <summary>The elements in row-major order.</summary>
    public ReadOnlyMemory<float> Memory => _data;

    /// <summary>Element at the given indices.</summary>
    public float this[params int[] index] => _data[Offset(index)];

    /// <summary>A zero-filled array of the given shape.</summary>
    public static NdArray Zeros(params int[] shape) => new(new float[Count(shape)], shape);

    /// <summary>An array of the given shape filled with <paramref name="value"/>.</summary>
    public static NdArray Full(float value, params int[] shape)
    {
        var data = new float[Count(shape)];
        Array.Fill(data, value);
        return new NdArray(data, shape);
    }

    /// <summary>A one-dimensional array holding a copy of <paramref name="values"/>.</summary>
    public static NdArray FromVector(IEnumerable<float> values)
    {
        float[] data = values.ToArray();
        return new NdArray(data, data.Length);
    }

    /// <summary>Copy of the elements.</summary>
    public float[] ToArray() => (float[])_data.Clone();

    /// <summary>Offset of an element in <see cref="Span"/>.</summary>
    public int Offset(ReadOnlySpan<int> index)
    {
        if (index.Length != _shape.Length)
        {
            throw new ArgumentException($"Expected {_shape.Length} indices, got {index.Length}.", nameof(index));
        }

        int offset = 0;
        for (int i = 0; i < index.Length; i++)
        {
            if ((uint)index[i] >= (uint)_shape[i])
            {
                throw new IndexOutOfRangeException($"Index {index[i]} out of range for dimension {i} of size {_shape[i]}.");
            }

            offset += index[i] * _strides[i];
        }

        return offset;
    }

    /// <summary>Same data seen with another shape of the same element count.</summary>
    public NdArray Reshape(params int[] shape) => new(_data, shape);

    /// <summary>Applies <paramref name="map"/> to every element.</summary>
    public NdArray Map(Func<float, float> map)
    {
        var result = new float[_data.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = map(_data[i]);
        }

        return new NdArray(result, _shape);
    }

    /// <summary>Compares shapes and values: |a-b| &lt;= atol + rtol*|b|, NaN equal to NaN.</summary>
    public bool AllClose(NdArray other, double rtol = 1e-5, double atol = 1e-8)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!_shape.AsSpan().SequenceEqual(other._shape))
        {
            return false;
        }

        for (int i = 0; i < _data.Length; i++)
        {
            float a = _data[i], b = other._data[i];
            if (float.IsNaN(a) || float.IsNaN(b))
            {
                if (float.IsNaN(a) != float.IsNaN(b))
                {
                    return false;
                }

                continue;
            }

            if (Math.Abs((double)a - b) > atol + rtol * Math.Abs((double)b))
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc />
    public bool Equals(NdArray? other) =>
        other is not null && _shape.AsSpan().SequenceEqual(other._shape) && BitwiseEqualOrBothNaN(_data, other._data);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as NdArray);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (int d in _shape)
        {
            hash.Add(d);
        }

        hash.Add(_data.Length > 0 ? _data[0] : 0f);
        return hash.ToHashCode();
    }

    /// <inheritdoc />
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"NdArray[{string.Join(", ", _shape)}]");

    private static int Count(int[] shape)
    {
        long count = 1;
        foreach (int d in shape)
        {
            count *= d;
        }

        return checked((int)count);
    }

    private static bool BitwiseEqualOrBothNaN(float[] a, float[] b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        for (int i = 0; i < a.Length; i++)
        {
            if (!(a[i].Equals(b[i]) || (float.IsNaN(a[i]) && float.IsNaN(b[i]))))
            {
                return false;
            }
        }

        return true;
    }
}
