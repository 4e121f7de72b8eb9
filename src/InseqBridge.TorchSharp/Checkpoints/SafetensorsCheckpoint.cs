using System.Buffers.Binary;
using System.Text.Json;
using InseqBridge.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.TorchSharp.Checkpoints;

/// <summary>
/// Reads the weights of a Hugging Face checkpoint folder: <c>model.safetensors</c> or a sharded
/// <c>model.safetensors.index.json</c>. F32, F16 and BF16 tensors are converted to float32 (the native backend
/// computes in fp32 so attributions match the reference).
/// </summary>
public static class SafetensorsCheckpoint
{
    /// <summary>
    /// Loads every tensor of the checkpoint as a float32 tensor that requires no gradient and belongs to no
    /// dispose scope. The caller owns the tensors.
    /// </summary>
    /// <exception cref="CheckpointException">Missing or corrupt file.</exception>
    public static Dictionary<string, Tensor> Load(string directory)
    {
        string single = Path.Combine(directory, "model.safetensors");
        string index = Path.Combine(directory, "model.safetensors.index.json");
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            if (File.Exists(single))
            {
                ReadFile(single, result);
            }
            else if (File.Exists(index))
            {
                foreach (string shard in ReadShardList(index))
                {
                    string path = Path.Combine(directory, shard);
                    if (!File.Exists(path))
                    {
                        throw new CheckpointException(
                            $"Shard '{shard}' listed in {index} is missing. Download the complete checkpoint.");
                    }

                    ReadFile(path, result);
                }
            }
            else
            {
                string hint = File.Exists(Path.Combine(directory, "pytorch_model.bin"))
                    ? " The folder has pytorch_model.bin only: convert it with transformers' save_pretrained(safe_serialization=True)."
                    : string.Empty;
                throw new CheckpointException(
                    $"No model.safetensors or model.safetensors.index.json in '{directory}'.{hint}");
            }
        }
        catch
        {
            foreach (Tensor t in result.Values)
            {
                t.Dispose();
            }

            throw;
        }

        return result;
    }

    /// <summary>Loads every tensor of one safetensors file (float types as float32, I64 as int64).</summary>
    public static Dictionary<string, Tensor> LoadFile(string path)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        ReadFile(path, result);
        return result;
    }

    /// <summary>Reads the tensor names, dtypes and shapes of one safetensors file without loading the data.</summary>
    public static IReadOnlyDictionary<string, (string Dtype, long[] Shape)> ReadHeader(string path)
    {
        using FileStream stream = File.OpenRead(path);
        var (entries, _) = ReadHeader(stream, path);
        return entries.ToDictionary(e => e.Name, e => (e.Dtype, e.Shape));
    }

    private static IEnumerable<string> ReadShardList(string indexPath)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (!doc.RootElement.TryGetProperty("weight_map", out JsonElement map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new CheckpointException($"{indexPath} has no 'weight_map' object.");
            }

            return map.EnumerateObject().Select(p => p.Value.GetString() ?? string.Empty).Distinct().Order().ToList();
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{indexPath} is not valid JSON: {e.Message}", e);
        }
    }

    private sealed record Entry(string Name, string Dtype, long[] Shape, long Begin, long End);

    private static (List<Entry> Entries, long DataStart) ReadHeader(Stream stream, string path)
    {
        Span<byte> lengthBytes = stackalloc byte[8];
        if (stream.ReadAtLeast(lengthBytes, 8, throwOnEndOfStream: false) != 8)
        {
            throw new CheckpointException($"{path} is truncated: no safetensors header. Re-download the file.");
        }

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength == 0 || headerLength > 100_000_000 || (long)headerLength > stream.Length - 8)
        {
            throw new CheckpointException($"{path} has an invalid safetensors header length ({headerLength}). The file is corrupt.");
        }

        var header = new byte[headerLength];
        stream.ReadExactly(header);
        var entries = new List<Entry>();
        try
        {
            using JsonDocument doc = JsonDocument.Parse(header);
            foreach (JsonProperty p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "__metadata__")
                {
                    continue;
                }

                string dtype = p.Value.GetProperty("dtype").GetString() ?? string.Empty;
                long[] shape = p.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
                long[] offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0])
                {
                    throw new CheckpointException($"{path}: tensor '{p.Name}' has invalid data_offsets.");
                }

                entries.Add(new Entry(p.Name, dtype, shape, offsets[0], offsets[1]));
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new CheckpointException($"{path} has a malformed safetensors header: {e.Message}", e);
        }

        return (entries, 8 + (long)headerLength);
    }

    private static void ReadFile(string path, Dictionary<string, Tensor> into)
    {
        using FileStream stream = File.OpenRead(path);
        var (entries, dataStart) = ReadHeader(stream, path);
        foreach (Entry e in entries.OrderBy(e => e.Begin))
        {
            int elementSize = e.Dtype switch
            {
                "F32" => 4,
                "F16" or "BF16" => 2,
                "I64" => 8,
                _ => throw new CheckpointException(
                    $"{path}: tensor '{e.Name}' has dtype {e.Dtype}; supported: F32, F16, BF16 (and I64 buffers)."),
            };
            long count = e.Shape.Aggregate(1L, (a, b) => a * b);
            if (count * elementSize != e.End - e.Begin || dataStart + e.End > stream.Length)
            {
                throw new CheckpointException(
                    $"{path}: tensor '{e.Name}' ({e.Dtype} [{string.Join(", ", e.Shape)}]) does not fit its data range. The file is truncated or corrupt.");
            }

            var raw = new byte[e.End - e.Begin];
            stream.Position = dataStart + e.Begin;
            stream.ReadExactly(raw);
            if (e.Dtype == "I64")
            {
                var longs = new long[count];
                Buffer.BlockCopy(raw, 0, longs, 0, raw.Length);
                into[e.Name] = torch.tensor(longs, e.Shape, ScalarType.Int64).DetachFromDisposeScope();
                continue;
            }

            float[] values = new float[count];
            switch (e.Dtype)
            {
                case "F32":
                    Buffer.BlockCopy(raw, 0, values, 0, raw.Length);
                    break;
                case "F16":
                    for (long i = 0; i < count; i++)
                    {
                        values[i] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(raw.AsSpan((int)(i * 2))));
                    }

                    break;
                default: // BF16: the upper half of a float32
                    for (long i = 0; i < count; i++)
                    {
                        values[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(raw.AsSpan((int)(i * 2))) << 16);
                    }

                    break;
            }

            Tensor t = torch.tensor(values, e.Shape, ScalarType.Float32);
            into[e.Name] = t.DetachFromDisposeScope();
        }
    }
}
