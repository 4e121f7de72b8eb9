using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace InseqBridge.Serialization;

/// <summary>
/// Reads and writes in-memory safetensors blobs: an 8-byte little-endian header length, a JSON header
/// <c>{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}</c> padded with spaces to a
/// multiple of 8 bytes, then the raw little-endian row-major data.
/// </summary>
public static class SafetensorsFormat
{
    private const string MetadataKey = "__metadata__";

    /// <summary>Parses a blob. Floating tensors are widened to float32.</summary>
    /// <exception cref="FormatException">The blob is truncated or its header is invalid.</exception>
    public static IReadOnlyDictionary<string, SafetensorsTensor> Read(ReadOnlySpan<byte> blob) => Read(blob, null);

    /// <summary>Parses a blob; <paramref name="checkShape"/> sees each declared shape before its data is decoded and
    /// may throw to refuse it.</summary>
    internal static IReadOnlyDictionary<string, SafetensorsTensor> Read(ReadOnlySpan<byte> blob, Action<IReadOnlyList<long>>? checkShape)
    {
        if (blob.Length < 8)
        {
            throw new FormatException($"A safetensors blob needs at least 8 bytes, got {blob.Length}.");
        }

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(blob);
        if (headerLength > (ulong)(blob.Length - 8))
        {
            throw new FormatException($"Header length {headerLength} exceeds the blob size {blob.Length}.");
        }

        ReadOnlySpan<byte> data = blob[(8 + (int)headerLength)..];
        var result = new Dictionary<string, SafetensorsTensor>(StringComparer.Ordinal);
        JsonDocument header;
        try
        {
            header = JsonDocument.Parse(blob.Slice(8, (int)headerLength).ToArray());
        }
        catch (JsonException e)
        {
            throw new FormatException("The safetensors header is not valid JSON.", e);
        }

        using (header)
        {
            if (header.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("The safetensors header is not a JSON object.");
            }

            try
            {
                foreach (JsonProperty entry in header.RootElement.EnumerateObject())
                {
                    if (entry.Name == MetadataKey)
                    {
                        continue;
                    }

                    result[entry.Name] = ReadTensor(entry, data, checkShape);
                }
            }
            catch (InvalidOperationException e)
            {
                // Found by fuzzing: a tensor name that is not valid UTF-8 fails when the name is read.
                throw new FormatException("The safetensors header holds text that is not valid UTF-8.", e);
            }
        }

        return result;
    }

    /// <summary>Serialises <paramref name="tensors"/> (in the given order) into a blob.</summary>
    /// <param name="tensors">Tensors by name.</param>
    /// <param name="metadata">Optional string metadata stored under <c>__metadata__</c>.</param>
    public static byte[] Write(
        IEnumerable<KeyValuePair<string, SafetensorsTensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var payloads = new List<(string Name, SafetensorsTensor Tensor, byte[] Bytes)>();
        foreach (var (name, tensor) in tensors)
        {
            payloads.Add((name, tensor, Encode(name, tensor)));
        }

        var headerText = new StringBuilder("{");
        bool first = true;
        if (metadata is { Count: > 0 })
        {
            headerText.Append('"').Append(MetadataKey).Append("\":").Append(JsonSerializer.Serialize(metadata));
            first = false;
        }

        long offset = 0;
        foreach (var (name, tensor, bytes) in payloads)
        {
            if (!first)
            {
                headerText.Append(',');
            }

            first = false;
            headerText.Append(JsonSerializer.Serialize(name))
                .Append(":{\"dtype\":\"").Append(tensor.DType.ToString())
                .Append("\",\"shape\":[").Append(string.Join(',', tensor.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture))))
                .Append("],\"data_offsets\":[")
                .Append(offset.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append((offset + bytes.Length).ToString(CultureInfo.InvariantCulture)).Append("]}");
            offset += bytes.Length;
        }

        headerText.Append('}');
        byte[] headerBytes = Encoding.UTF8.GetBytes(headerText.ToString());

        // The format pads the header with spaces so the data starts 8-byte aligned.
        int paddedLength = (headerBytes.Length + 7) / 8 * 8;
        var blob = new byte[8 + paddedLength + offset];
        BinaryPrimitives.WriteUInt64LittleEndian(blob, (ulong)paddedLength);
        headerBytes.CopyTo(blob, 8);
        blob.AsSpan(8 + headerBytes.Length, paddedLength - headerBytes.Length).Fill((byte)' ');
        int position = 8 + paddedLength;
        foreach (var (_, _, bytes) in payloads)
        {
            bytes.CopyTo(blob, position);
            position += bytes.Length;
        }

        return blob;
    }

    /// <summary>Bytes per element of <paramref name="dtype"/>.</summary>
    public static int ElementSize(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F32 => 4,
        SafetensorsDType.F16 or SafetensorsDType.BF16 => 2,
        SafetensorsDType.F8_E4M3 => 1,
        SafetensorsDType.I64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    private static SafetensorsTensor ReadTensor(JsonProperty entry, ReadOnlySpan<byte> data, Action<IReadOnlyList<long>>? checkShape)
    {
        try
        {
            JsonElement info = entry.Value;
            string dtypeName = info.GetProperty("dtype").GetString() ?? string.Empty;
            if (!Enum.TryParse(dtypeName, out SafetensorsDType dtype) || !Enum.IsDefined(dtype) || !char.IsAsciiLetter(dtypeName.FirstOrDefault()))
            {
                throw new FormatException($"Unsupported safetensors dtype '{dtypeName}' for tensor '{entry.Name}'.");
            }

            long[] shape = info.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            long[] offsets = info.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            if (shape.Any(d => d < 0 || d > int.MaxValue))
            {
                throw new FormatException($"Tensor '{entry.Name}' has a negative or too large dimension in shape [{string.Join(", ", shape)}].");
            }

            int size = ElementSize(dtype);
            long count = 1;
            foreach (long d in shape)
            {
                // Saturate instead of wrapping: a product past the data size fails the offsets check below.
                count = d == 0 || count == 0 ? 0 : count > ((long)data.Length + 1) / d ? (long)data.Length + 1 : count * d;
            }

            if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] > data.Length || offsets[0] > offsets[1] || offsets[1] - offsets[0] != count * size)
            {
                throw new FormatException(
                    $"Tensor '{entry.Name}' has data offsets [{string.Join(", ", offsets)}] that do not fit its shape "
                    + $"[{string.Join(", ", shape)}] ({dtype}) or the {data.Length} data bytes.");
            }

            checkShape?.Invoke(shape);
            ReadOnlySpan<byte> bytes = data[(int)offsets[0]..(int)offsets[1]];
            return dtype == SafetensorsDType.I64
                ? new SafetensorsTensor(dtype, shape, null, DecodeLongs(bytes))
                : new SafetensorsTensor(dtype, shape, DecodeFloats(dtype, bytes), null);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException)
        {
            throw new FormatException($"Malformed safetensors header entry '{entry.Name}'.", e);
        }
    }

    private static long[] DecodeLongs(ReadOnlySpan<byte> bytes)
    {
        var values = new long[bytes.Length / 8];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadInt64LittleEndian(bytes[(i * 8)..]);
        }

        return values;
    }

    /// <summary>Widens little-endian elements of a floating <paramref name="dtype"/> to float32.</summary>
    internal static float[] DecodeFloats(SafetensorsDType dtype, ReadOnlySpan<byte> bytes)
    {
        int size = ElementSize(dtype);
        var values = new float[bytes.Length / size];
        for (int i = 0; i < values.Length; i++)
        {
            ReadOnlySpan<byte> element = bytes.Slice(i * size, size);
            values[i] = dtype switch
            {
                SafetensorsDType.F32 => BinaryPrimitives.ReadSingleLittleEndian(element),
                SafetensorsDType.F16 => (float)BinaryPrimitives.ReadHalfLittleEndian(element),
                SafetensorsDType.BF16 => BitConverter.UInt32BitsToSingle((uint)BinaryPrimitives.ReadUInt16LittleEndian(element) << 16),
                SafetensorsDType.F8_E4M3 => Float8E4M3.ToSingle(element[0]),
                _ => throw new FormatException($"{dtype} is not a floating type."),
            };
        }

        return values;
    }

    /// <summary>Narrows float32 values to little-endian elements of <paramref name="dtype"/> (round to nearest even).</summary>
    internal static byte[] EncodeFloats(SafetensorsDType dtype, ReadOnlySpan<float> values)
    {
        int size = ElementSize(dtype);
        var bytes = new byte[values.Length * size];
        for (int i = 0; i < values.Length; i++)
        {
            Span<byte> element = bytes.AsSpan(i * size, size);
            switch (dtype)
            {
                case SafetensorsDType.F32:
                    BinaryPrimitives.WriteSingleLittleEndian(element, values[i]);
                    break;
                case SafetensorsDType.F16:
                    BinaryPrimitives.WriteHalfLittleEndian(element, (Half)values[i]);
                    break;
                case SafetensorsDType.BF16:
                    BinaryPrimitives.WriteUInt16LittleEndian(element, ToBFloat16Bits(values[i]));
                    break;
                case SafetensorsDType.F8_E4M3:
                    element[0] = Float8E4M3.FromSingle(values[i]);
                    break;
                default:
                    throw new ArgumentException($"{dtype} is not a floating type.", nameof(dtype));
            }
        }

        return bytes;
    }

    private static ushort ToBFloat16Bits(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x40);
        }

        // Round to nearest even on the 16 dropped bits.
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    private static byte[] Encode(string name, SafetensorsTensor tensor)
    {
        long count = tensor.ElementCount;
        if (tensor.DType == SafetensorsDType.I64)
        {
            long[] longs = tensor.Longs ?? throw new ArgumentException($"Tensor '{name}' is I64 but has no Longs.");
            if (longs.Length != count)
            {
                throw new ArgumentException($"Tensor '{name}' has {longs.Length} values for {count} elements.");
            }

            var bytes = new byte[longs.Length * 8];
            for (int i = 0; i < longs.Length; i++)
            {
                BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), longs[i]);
            }

            return bytes;
        }

        float[] floats = tensor.Floats ?? throw new ArgumentException($"Tensor '{name}' is {tensor.DType} but has no Floats.");
        if (floats.Length != count)
        {
            throw new ArgumentException($"Tensor '{name}' has {floats.Length} values for {count} elements.");
        }

        return EncodeFloats(tensor.DType, floats);
    }
}
