using InseqBridge.Data;

namespace InseqBridge.Aggregation;

/// <summary>Ids and implementations of <see cref="AggregationFunction"/>.</summary>
public static class AggregationFunctions
{
    /// <summary>Inseq's id of <paramref name="function"/> (e.g. <c>absmax</c>).</summary>
    public static string Id(this AggregationFunction function) => function switch
    {
        AggregationFunction.VNorm => "vnorm",
        _ => function.ToString().ToLowerInvariant(),
    };

    /// <summary>The function with Inseq id <paramref name="id"/>.</summary>
    /// <exception cref="ArgumentException">Unknown id.</exception>
    public static AggregationFunction Parse(string id) =>
        Enum.GetValues<AggregationFunction>().FirstOrDefault(f => f.Id() == id, (AggregationFunction)(-1)) is var f && Enum.IsDefined(f)
            ? f
            : throw new ArgumentException($"Unknown aggregation function '{id}'.", nameof(id));

    /// <summary>Reduces <paramref name="values"/> to one number.</summary>
    public static float Apply(this AggregationFunction function, ReadOnlySpan<float> values)
    {
        // Accumulate in double: the results then agree with torch's float32 kernels within float rounding.
        switch (function)
        {
            case AggregationFunction.Mean:
                return values.Length == 0 ? float.NaN : (float)(Sum(values) / values.Length);
            case AggregationFunction.Sum:
                return (float)Sum(values);
            case AggregationFunction.Prod:
                double p = 1;
                foreach (float v in values)
                {
                    p *= v;
                }

                return (float)p;
            case AggregationFunction.Max:
            case AggregationFunction.Min:
                float best = function == AggregationFunction.Max ? float.NegativeInfinity : float.PositiveInfinity;
                foreach (float v in values)
                {
                    if (float.IsNaN(v))
                    {
                        return float.NaN;
                    }

                    best = function == AggregationFunction.Max ? Math.Max(best, v) : Math.Min(best, v);
                }

                return best;
            case AggregationFunction.AbsMax:
                int index = 0;
                float bestAbs = -1;
                for (int i = 0; i < values.Length; i++)
                {
                    float v = values[i];
                    float a = float.IsNaN(v) ? 0 : float.IsInfinity(v) ? float.MaxValue : Math.Abs(v);
                    if (a > bestAbs)
                    {
                        bestAbs = a;
                        index = i;
                    }
                }

                return values.Length == 0 ? float.NaN : values[index];
            case AggregationFunction.VNorm:
                double squares = 0;
                foreach (float v in values)
                {
                    squares += (double)v * v;
                }

                return (float)Math.Sqrt(squares);
            default:
                throw new ArgumentOutOfRangeException(nameof(function));
        }
    }

    /// <summary>Reduces dimension <paramref name="dim"/> of <paramref name="array"/> (negative counts from the end).</summary>
    public static NdArray Reduce(this AggregationFunction function, NdArray array, int dim)
    {
        ArgumentNullException.ThrowIfNull(array);
        return NdArrayOps.ReduceDim(array, dim, values => function.Apply(values));
    }

    private static double Sum(ReadOnlySpan<float> values)
    {
        double s = 0;
        foreach (float v in values)
        {
            s += v;
        }

        return s;
    }
}
