using InseqBridge.Data;

namespace InseqBridge.Aggregation;

/// <summary>The few tensor operations aggregation needs, on row-major <see cref="NdArray"/>s.</summary>
internal static class NdArrayOps
{
    public delegate float Reducer(ReadOnlySpan<float> values);

    /// <summary>Shape seen as [outer, n, inner] around <paramref name="dim"/>.</summary>
    private static (int Outer, int N, int Inner) Split(NdArray a, int dim)
    {
        int outer = 1, inner = 1;
        for (int i = 0; i < dim; i++)
        {
            outer *= a.Shape[i];
        }

        for (int i = dim + 1; i < a.Rank; i++)
        {
            inner *= a.Shape[i];
        }

        return (outer, a.Shape[dim], inner);
    }

    public static int NormDim(NdArray a, int dim)
    {
        int d = dim < 0 ? dim + a.Rank : dim;
        if ((uint)d >= (uint)a.Rank)
        {
            throw new ArgumentOutOfRangeException(nameof(dim), $"Dimension {dim} out of range for rank {a.Rank}.");
        }

        return d;
    }

    public static NdArray ReduceDim(NdArray a, int dim, Reducer reduce)
    {
        dim = NormDim(a, dim);
        var (outer, n, inner) = Split(a, dim);
        var result = new float[outer * inner];
        var buffer = new float[n];
        ReadOnlySpan<float> src = a.Span;
        for (int o = 0; o < outer; o++)
        {
            for (int i = 0; i < inner; i++)
            {
                for (int k = 0; k < n; k++)
                {
                    buffer[k] = src[((o * n) + k) * inner + i];
                }

                result[o * inner + i] = reduce(buffer);
            }
        }

        int[] shape = a.Shape.Where((_, i) => i != dim).ToArray();
        return new NdArray(result, shape);
    }

    /// <summary>Keeps indices <paramref name="indices"/> of dimension <paramref name="dim"/>, in order.</summary>
    public static NdArray Select(NdArray a, int dim, IReadOnlyList<int> indices)
    {
        dim = NormDim(a, dim);
        var (outer, n, inner) = Split(a, dim);
        var result = new float[outer * indices.Count * inner];
        ReadOnlySpan<float> src = a.Span;
        for (int o = 0; o < outer; o++)
        {
            for (int k = 0; k < indices.Count; k++)
            {
                int idx = indices[k] < 0 ? indices[k] + n : indices[k];
                if ((uint)idx >= (uint)n)
                {
                    throw new ArgumentOutOfRangeException(nameof(indices), $"Index {indices[k]} out of range for size {n}.");
                }

                src.Slice((o * n + idx) * inner, inner).CopyTo(result.AsSpan((o * indices.Count + k) * inner, inner));
            }
        }

        int[] shape = a.Shape.ToArray();
        shape[dim] = indices.Count;
        return new NdArray(result, shape);
    }

    /// <summary>Like <see cref="Select"/> with one index, dropping the dimension.</summary>
    public static NdArray Index(NdArray a, int dim, int index)
    {
        dim = NormDim(a, dim);
        NdArray selected = Select(a, dim, [index]);
        return selected.Reshape(a.Shape.Where((_, i) => i != dim).ToArray());
    }

    public static NdArray Range(NdArray a, int dim, int start, int end) =>
        Select(a, dim, Enumerable.Range(start, Math.Max(0, end - start)).ToArray());

    /// <summary>Concatenates along dimension 0.</summary>
    public static NdArray Concat0(IReadOnlyList<NdArray> parts)
    {
        int[] shape = parts[0].Shape.ToArray();
        shape[0] = parts.Sum(p => p.Shape[0]);
        return new NdArray(parts.SelectMany(p => p.ToArray()).ToArray(), shape);
    }

    /// <summary>Merges each (start, end) span of dimension <paramref name="dim"/> into one entry with <paramref name="fn"/>
    /// (Inseq's <c>aggregate_contiguous</c>).</summary>
    public static NdArray AggregateContiguous(NdArray a, IReadOnlyList<(int Start, int End)> spans, AggregationFunction fn, int dim)
    {
        if (spans.Count == 0)
        {
            return a;
        }

        var indices = new List<int[]>();
        int last = 0;
        foreach (var (start, end) in spans)
        {
            for (int i = last; i < start; i++)
            {
                indices.Add([i]);
            }

            indices.Add(Enumerable.Range(start, end - start).ToArray());
            last = end;
        }

        for (int i = last; i < a.Shape[dim]; i++)
        {
            indices.Add([i]);
        }

        var (outer, n, inner) = Split(a, dim);
        var result = new float[outer * indices.Count * inner];
        ReadOnlySpan<float> src = a.Span;
        var buffer = new List<float>();
        for (int o = 0; o < outer; o++)
        {
            for (int g = 0; g < indices.Count; g++)
            {
                int[] group = indices[g];
                for (int i = 0; i < inner; i++)
                {
                    float value;
                    if (group.Length == 1)
                    {
                        value = src[(o * n + group[0]) * inner + i];
                    }
                    else
                    {
                        buffer.Clear();
                        foreach (int k in group)
                        {
                            buffer.Add(src[(o * n + k) * inner + i]);
                        }

                        value = fn.Apply(buffer.ToArray());
                    }

                    result[(o * indices.Count + g) * inner + i] = value;
                }
            }
        }

        int[] shape = a.Shape.ToArray();
        shape[dim] = indices.Count;
        return new NdArray(result, shape);
    }

    /// <summary>Elementwise combination of two same-shaped arrays.</summary>
    public static NdArray Zip(NdArray a, NdArray b, Func<float, float, float> f)
    {
        if (!a.Shape.SequenceEqual(b.Shape))
        {
            throw new ArgumentException($"Shapes differ: {a} vs {b}.");
        }

        var result = new float[a.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = f(a.Span[i], b.Span[i]);
        }

        return new NdArray(result, a.Shape.ToArray());
    }
}
