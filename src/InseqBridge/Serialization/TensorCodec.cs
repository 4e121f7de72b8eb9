using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using InseqBridge.Data;

namespace InseqBridge.Serialization;

/// <summary>
/// Converts attribution tensors between <see cref="NdArray"/> and the JSON encodings Inseq uses: a base64
/// safetensors string (0.7), a json-tricks <c>__ndarray__</c> object (0.6) or a plain nested list.
/// </summary>
internal static class TensorCodec
{
    private const string SafetensorsName = "attribution";

    // Arrays read from a file remember their original JSON, keyed by the (immutable) NdArray instance. Re-saving
    // with the same encoding reuses it: the data is identical by construction, and it makes re-saves byte-identical
    // even where .NET's deflate (zlib-ng) would pick different (equally valid) bytes than CPython's zlib.
    private static readonly ConditionalWeakTable<NdArray, OriginalEncoding> Originals = new();

    private sealed record OriginalEncoding(JsonNode Node, InseqJsonEncoding Encoding, ScoresPrecision? Precision, bool ArrayGzipped);

    public static NdArray Decode(JsonNode node, string? file, string path) => Decode(node, file, path, InseqReadLimits.Default, null);

    /// <summary>Decodes a tensor. Its declared shape is checked against <paramref name="limits"/> and by
    /// <paramref name="checkShape"/> (which returns a reason to refuse, or null) before its data is decompressed or
    /// widened, so a small file cannot make the reader allocate gigabytes.</summary>
    public static NdArray Decode(JsonNode node, string? file, string path, InseqReadLimits limits, Func<int[], string?>? checkShape)
    {
        try
        {
            void Check(IReadOnlyList<long> declared)
            {
                long count = 1;
                foreach (long d in declared)
                {
                    if (d < 0 || d > int.MaxValue)
                    {
                        throw new FormatException($"shape [{string.Join(", ", declared)}] has a dimension that is negative or too large");
                    }

                    count = d == 0 || count == 0 ? 0 : (count > limits.MaxTensorElements / d ? limits.MaxTensorElements + 1 : count * d);
                }

                if (count > limits.MaxTensorElements)
                {
                    throw new FormatException(
                        $"shape [{string.Join(", ", declared)}] declares more than {limits.MaxTensorElements} elements (InseqReadLimits.MaxTensorElements raises the limit)");
                }

                if (checkShape?.Invoke(declared.Select(d => (int)d).ToArray()) is string reason)
                {
                    throw new FormatException(reason);
                }
            }

            (NdArray array, OriginalEncoding original) = node switch
            {
                JsonValue v when v.TryGetValue(out string? s) => DecodeSafetensors(s, node, Check),
                JsonObject o when o.ContainsKey("__ndarray__") => DecodeNdArray(o, Check),
                JsonArray a => (DecodeNestedList(a, Check), new OriginalEncoding(node.DeepClone(), InseqJsonEncoding.Inseq06, ScoresPrecision.Float32, false)),
                _ => throw new FormatException("expected a base64 safetensors string, an __ndarray__ object or a list"),
            };
            Originals.AddOrUpdate(array, original);
            return array;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException or InvalidDataException or OverflowException)
        {
            throw new InseqJsonException(file, path, $"invalid tensor: {e.Message}", e);
        }
    }

    public static JsonNode Encode(NdArray array, SaveOptions options)
    {
        if (Originals.TryGetValue(array, out OriginalEncoding? original)
            && original.Encoding == options.Encoding
            && original.Precision == options.ScoresPrecision
            && !(options.Compress && original.ArrayGzipped))
        {
            return original.Node.DeepClone();
        }

        return options.Encoding == InseqJsonEncoding.Inseq07
            ? JsonValue.Create(Convert.ToBase64String(EncodeSafetensors(array, options.ScoresPrecision)))
            : EncodeNdArray(array, options.ScoresPrecision, allowArrayGzip: !options.Compress);
    }

    public static byte[] EncodeSafetensors(NdArray array, ScoresPrecision precision)
    {
        SafetensorsDType dtype = precision switch
        {
            ScoresPrecision.Float16 => SafetensorsDType.F16,
            ScoresPrecision.Float8 => SafetensorsDType.F8_E4M3,
            _ => SafetensorsDType.F32,
        };
        var tensor = new SafetensorsTensor(dtype, array.Shape.Select(d => (long)d).ToArray(), array.ToArray(), null);
        return SafetensorsFormat.Write([new(SafetensorsName, tensor)]);
    }

    private static (NdArray, OriginalEncoding) DecodeSafetensors(string base64, JsonNode node, Action<IReadOnlyList<long>> check)
    {
        byte[] blob = Convert.FromBase64String(base64);
        IReadOnlyDictionary<string, SafetensorsTensor> tensors = SafetensorsFormat.Read(blob, check);
        SafetensorsTensor tensor = tensors.TryGetValue(SafetensorsName, out SafetensorsTensor? named)
            ? named
            : tensors.Count == 1 ? tensors.Values.First() : throw new FormatException($"no '{SafetensorsName}' tensor in the safetensors blob");
        float[] values = tensor.Floats ?? tensor.Longs!.Select(l => (float)l).ToArray();
        ScoresPrecision? precision = tensor.DType switch
        {
            SafetensorsDType.F32 => ScoresPrecision.Float32,
            SafetensorsDType.F16 => ScoresPrecision.Float16,
            SafetensorsDType.F8_E4M3 => ScoresPrecision.Float8,
            SafetensorsDType.I64 => ScoresPrecision.Float32,
            _ => null,
        };
        var array = new NdArray(values, tensor.Shape.Select(d => checked((int)d)).ToArray());
        return (array, new OriginalEncoding(node.DeepClone(), InseqJsonEncoding.Inseq07, precision, false));
    }

    private static (NdArray, OriginalEncoding) DecodeNdArray(JsonObject obj, Action<IReadOnlyList<long>> check)
    {
        string dtype = obj["dtype"] is JsonValue dv && dv.TryGetValue(out string? dtypeText) ? dtypeText : throw new FormatException("missing or non-string dtype");
        long[] declared = (obj["shape"] as JsonArray ?? throw new FormatException("missing shape"))
            .Select(n => n is JsonValue sv && sv.TryGetValue(out long d) ? d : throw new FormatException("shape entries must be integers")).ToArray();
        check(declared);
        int[] shape = declared.Select(d => (int)d).ToArray();
        bool cOrder = obj["Corder"] switch
        {
            null => true,
            JsonValue cv when cv.TryGetValue(out bool b) => b,
            _ => throw new FormatException("Corder must be true or false"),
        };
        JsonNode data = obj["__ndarray__"] ?? throw new FormatException("null __ndarray__");
        float[] values;
        bool gzipped = false;
        if (data is JsonValue v && v.TryGetValue(out string? s))
        {
            byte[] bytes;
            if (s.StartsWith("b64.gz:", StringComparison.Ordinal))
            {
                // The shape (already checked against the tokens and the cap) fixes the size: inflate exactly that.
                long expectedBytes = shape.Aggregate(1L, (a, b) => a * b) * NumpyElementSize(dtype);
                if (expectedBytes > Array.MaxLength)
                {
                    throw new FormatException($"shape [{string.Join(", ", shape)}] needs {expectedBytes} bytes, more than one array holds");
                }

                bytes = PythonGzip.DecompressExactly(Convert.FromBase64String(s[7..]), (int)expectedBytes);
                gzipped = true;
            }
            else if (s.StartsWith("b64:", StringComparison.Ordinal))
            {
                bytes = Convert.FromBase64String(s[4..]);
            }
            else
            {
                throw new FormatException("__ndarray__ string must start with 'b64:' or 'b64.gz:'");
            }

            values = DecodeNumpyBytes(bytes, dtype);
        }
        else if (data is JsonArray list)
        {
            values = FlattenNumbers(list).ToArray();
        }
        else
        {
            values = [ToFloat(data)];
        }

        long expected = shape.Aggregate(1L, (a, b) => a * b);
        if (values.Length != expected)
        {
            throw new FormatException($"shape [{string.Join(", ", shape)}] needs {expected} values but the data holds {values.Length}");
        }

        if (!cOrder && shape.Length > 1)
        {
            values = FortranToC(values, shape);
        }

        ScoresPrecision? precision = dtype switch
        {
            "float32" => ScoresPrecision.Float32,
            "float16" => ScoresPrecision.Float16,

            // Integer / float64 arrays (e.g. top_p_size step scores) keep their dtype on a float32 re-save.
            _ => ScoresPrecision.Float32,
        };
        return (new NdArray(values, shape), new OriginalEncoding(obj.DeepClone(), InseqJsonEncoding.Inseq06, precision, gzipped));
    }

    private static int NumpyElementSize(string dtype) => dtype switch
    {
        "float32" or "int32" => 4,
        "float16" => 2,
        "float64" or "int64" => 8,
        "bool" => 1,
        _ => throw new FormatException($"unsupported dtype '{dtype}'"),
    };

    private static float[] DecodeNumpyBytes(byte[] bytes, string dtype)
    {
        (int size, Func<ReadOnlyMemory<byte>, float> read) = dtype switch
        {
            "float32" => (4, m => BinaryPrimitives.ReadSingleLittleEndian(m.Span)),
            "float16" => (2, m => (float)BinaryPrimitives.ReadHalfLittleEndian(m.Span)),
            "float64" => (8, m => (float)BinaryPrimitives.ReadDoubleLittleEndian(m.Span)),
            "int64" => (8, m => BinaryPrimitives.ReadInt64LittleEndian(m.Span)),
            "int32" => (4, m => BinaryPrimitives.ReadInt32LittleEndian(m.Span)),
            "bool" => (1, new Func<ReadOnlyMemory<byte>, float>(m => m.Span[0] != 0 ? 1f : 0f)),
            _ => throw new FormatException($"unsupported dtype '{dtype}'"),
        };
        if (bytes.Length % size != 0)
        {
            throw new FormatException($"{bytes.Length} bytes is not a whole number of {dtype} elements");
        }

        var values = new float[bytes.Length / size];
        var memory = new ReadOnlyMemory<byte>(bytes);
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = read(memory.Slice(i * size, size));
        }

        return values;
    }

    private static JsonObject EncodeNdArray(NdArray array, ScoresPrecision precision, bool allowArrayGzip)
    {
        (string dtype, SafetensorsDType raw) = precision switch
        {
            ScoresPrecision.Float32 => ("float32", SafetensorsDType.F32),
            ScoresPrecision.Float16 => ("float16", SafetensorsDType.F16),
            _ => throw new NotSupportedException("Float8 scores need the Inseq07 (safetensors) encoding: numpy has no float8 dtype."),
        };
        byte[] bytes = SafetensorsFormat.EncodeFloats(raw, array.Span);
        string text = "b64:" + Convert.ToBase64String(bytes);
        if (allowArrayGzip)
        {
            // json-tricks keeps the gzip form only when it saves at least 10% and more than the 8 header bytes.
            byte[] small = PythonGzip.Compress(bytes, 9);
            if (small.Length < 0.9 * bytes.Length && small.Length < bytes.Length - 8)
            {
                text = "b64.gz:" + Convert.ToBase64String(small);
            }
        }

        var obj = new JsonObject
        {
            ["__ndarray__"] = text,
            ["dtype"] = dtype,
            ["shape"] = new JsonArray(array.Shape.Select(d => (JsonNode)JsonValue.Create((long)d)).ToArray()),
        };
        if (array.Rank > 1)
        {
            obj["Corder"] = true;
        }

        return obj;
    }

    private static NdArray DecodeNestedList(JsonArray list, Action<IReadOnlyList<long>> check)
    {
        var shape = new List<int>();
        JsonNode? probe = list;
        while (probe is JsonArray a)
        {
            shape.Add(a.Count);
            probe = a.Count > 0 ? a[0] : null;
        }

        check(shape.Select(d => (long)d).ToList());
        float[] values = FlattenNumbers(list).ToArray();
        if (values.Length != shape.Aggregate(1L, (x, y) => x * y))
        {
            throw new FormatException($"the nested list is ragged: {values.Length} numbers do not fill the shape [{string.Join(", ", shape)}]");
        }

        return new NdArray(values, shape.ToArray());
    }

    private static IEnumerable<float> FlattenNumbers(JsonArray list)
    {
        foreach (JsonNode? item in list)
        {
            if (item is JsonArray inner)
            {
                foreach (float f in FlattenNumbers(inner))
                {
                    yield return f;
                }
            }
            else
            {
                yield return ToFloat(item);
            }
        }
    }

    private static float ToFloat(JsonNode? node) => node switch
    {
        null => float.NaN,
        JsonValue v when v.TryGetValue(out double d) => (float)d,
        JsonValue v when v.TryGetValue(out long l) => l,
        JsonValue v when v.TryGetValue(out bool b) => b ? 1f : 0f,
        _ => throw new FormatException("non-numeric value in a numeric list"),
    };

    private static float[] FortranToC(float[] values, int[] shape)
    {
        var result = new float[values.Length];
        var index = new int[shape.Length];
        for (int c = 0; c < values.Length; c++)
        {
            int f = 0, stride = 1;
            for (int d = 0; d < shape.Length; d++)
            {
                f += index[d] * stride;
                stride *= shape[d];
            }

            result[c] = values[f];
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d])
                {
                    break;
                }

                index[d] = 0;
            }
        }

        return result;
    }
}
