using System.Buffers.Binary;
using System.Text.Json;
using InseqBridge.Errors;
using Microsoft.Win32.SafeHandles;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Checkpoints;

/// <summary>
/// Reads the weights of a Hugging Face checkpoint folder: <c>model.safetensors</c> or the shards listed by
/// <c>model.safetensors.index.json</c>. Floating-point tensors (F64, F32, F16, BF16) are converted to the requested
/// <see cref="ModelDType"/> (float32 by default: bf16/fp16 upcast exactly, as transformers' float32 load does);
/// integer tensors keep their type.
/// </summary>
/// <remarks>
/// Files are streamed: each tensor is allocated once in its final dtype and filled in chunks of at most
/// <see cref="ChunkBytes"/> read straight into its buffer (or into one reused staging buffer when the dtype changes),
/// so peak memory while loading stays near the final model size. Headers are untrusted: their length is capped,
/// and every dtype, shape and data range is checked against the file size before any data is read.
/// </remarks>
public static class SafetensorsCheckpoint
{
    /// <summary>Largest header accepted (the safetensors library's own limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Largest <c>model.safetensors.index.json</c> accepted.</summary>
    public const long MaxIndexBytes = 64_000_000;

    /// <summary>Bytes read per chunk (and the size of the staging buffer used for dtype conversion).</summary>
    public const int ChunkBytes = 16 << 20;

    private const int MaxRank = 8;

    /// <summary>Loads every tensor of the checkpoint as float32 (integer tensors as stored). The caller owns the tensors.</summary>
    /// <exception cref="CheckpointException">Missing, truncated or corrupt files.</exception>
    public static Dictionary<string, Tensor> Load(string directory) => Load(directory, ModelDType.Float32, (Func<IReadOnlyCollection<string>, IReadOnlyList<WeightSpec>?>?)null, "the model");

    /// <summary>
    /// Loads the checkpoint's weights in <paramref name="dtype"/>. With <paramref name="declared"/>, first checks
    /// every declared weight (name, shape, dtype) against the file headers, failing on the first problem, then loads
    /// only the declared weights (keys the architecture never reads, such as a tied <c>lm_head.weight</c>, are
    /// skipped). Without it, loads every tensor. The tensors belong to no dispose scope and require no gradient.
    /// </summary>
    /// <param name="directory">The checkpoint folder.</param>
    /// <param name="dtype">Precision of the floating-point weights.</param>
    /// <param name="declared">The weights the architecture reads, or null for all.</param>
    /// <param name="modelClass">Architecture named in errors.</param>
    /// <exception cref="CheckpointException">Missing, truncated or corrupt files; a missing or mismatched weight.</exception>
    public static Dictionary<string, Tensor> Load(string directory, ModelDType dtype, IReadOnlyList<WeightSpec>? declared, string modelClass) =>
        Load(directory, dtype, declared is null ? null : _ => declared, modelClass);

    /// <summary>
    /// As <see cref="Load(string, ModelDType, IReadOnlyList{WeightSpec}?, string)"/>, with the declared weights computed
    /// from the names the checkpoint stores (for architectures whose keys have variants, e.g. GPT-2 with or without
    /// the <c>transformer.</c> prefix).
    /// </summary>
    public static Dictionary<string, Tensor> Load(
        string directory, ModelDType dtype, Func<IReadOnlyCollection<string>, IReadOnlyList<WeightSpec>?>? declare, string modelClass)
    {
        List<string> files = CheckpointFiles(directory, out Dictionary<string, string>? indexMap, out string? indexPath);
        var headers = new Dictionary<string, (string Path, Header Header)>(StringComparer.Ordinal);
        var located = new Dictionary<string, (string Path, Entry Entry)>(StringComparer.Ordinal);
        foreach (string path in files)
        {
            Header header = ReadHeaderOf(path);
            headers[path] = (path, header);
            foreach (Entry e in header.Entries)
            {
                if (!located.TryAdd(e.Name, (path, e)))
                {
                    throw new CheckpointException($"Tensor '{e.Name}' is stored twice ({located[e.Name].Path} and {path}). The checkpoint is corrupt.");
                }
            }
        }

        if (indexMap is not null)
        {
            foreach (var (name, shard) in indexMap)
            {
                if (!located.TryGetValue(name, out var where) || Path.GetFileName(where.Path) != shard)
                {
                    throw new CheckpointException(
                        $"{indexPath} maps '{name}' to {shard}, but that shard does not hold it. The checkpoint is incomplete or corrupt: re-download it.");
                }
            }
        }

        HashSet<string>? wanted = null;
        if (declare?.Invoke(located.Keys) is { } declared)
        {
            WeightSpec.Validate(declared, located.ToDictionary(kv => kv.Key, kv => (kv.Value.Entry.Dtype, kv.Value.Entry.Shape, kv.Value.Path)), modelClass);
            wanted = declared.Select(s => s.Name).Where(located.ContainsKey).ToHashSet(StringComparer.Ordinal);
        }

        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            using var staging = new StagingBuffers();
            foreach (string path in files)
            {
                Header header = headers[path].Header;
                List<Entry> entries = header.Entries.Where(e => wanted is null || wanted.Contains(e.Name)).OrderBy(e => e.Begin).ToList();
                if (entries.Count == 0)
                {
                    continue;
                }

                using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
                foreach (Entry e in entries)
                {
                    result[e.Name] = ReadTensor(handle, path, header.DataStart, e, dtype.ToScalarType(), staging);
                }
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

    /// <summary>Loads every tensor of one safetensors file (floating-point types as float32, integers as stored).</summary>
    public static Dictionary<string, Tensor> LoadFile(string path)
    {
        Header header = ReadHeaderOf(path);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            using var staging = new StagingBuffers();
            using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
            foreach (Entry e in header.Entries.OrderBy(e => e.Begin))
            {
                result[e.Name] = ReadTensor(handle, path, header.DataStart, e, ScalarType.Float32, staging);
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

    /// <summary>Reads the tensor names, dtypes and shapes of one safetensors file without loading the data.</summary>
    /// <exception cref="CheckpointException">The file is missing, truncated or its header is invalid.</exception>
    public static IReadOnlyDictionary<string, (string Dtype, long[] Shape)> ReadHeader(string path) =>
        ReadHeaderOf(path).Entries.ToDictionary(e => e.Name, e => (e.Dtype, e.Shape));

    /// <summary>The safetensors files of a checkpoint folder (one file, or the shards of the index in name order).</summary>
    private static List<string> CheckpointFiles(string directory, out Dictionary<string, string>? indexMap, out string? indexPath)
    {
        string single = Path.Combine(directory, "model.safetensors");
        indexPath = Path.Combine(directory, "model.safetensors.index.json");
        indexMap = null;
        if (File.Exists(single))
        {
            indexPath = null;
            return [single];
        }

        if (File.Exists(indexPath))
        {
            indexMap = ReadShardMap(indexPath);
            var files = new List<string>();
            foreach (string shard in indexMap.Values.Distinct().Order(StringComparer.Ordinal))
            {
                string path = Path.Combine(directory, shard);
                if (!File.Exists(path))
                {
                    throw new CheckpointException($"Shard '{shard}' listed in {indexPath} is missing. Download the complete checkpoint.");
                }

                files.Add(path);
            }

            return files;
        }

        string hint = File.Exists(Path.Combine(directory, "pytorch_model.bin"))
            ? " The folder has pytorch_model.bin only: convert it with transformers' save_pretrained(safe_serialization=True)."
            : string.Empty;
        throw new CheckpointException($"No model.safetensors or model.safetensors.index.json in '{directory}'.{hint}");
    }

    private static Dictionary<string, string> ReadShardMap(string indexPath)
    {
        if (new FileInfo(indexPath).Length > MaxIndexBytes)
        {
            throw new CheckpointException($"{indexPath} is larger than {MaxIndexBytes / 1_000_000} MB; it is not a checkpoint index.");
        }

        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(indexPath), new JsonDocumentOptions { MaxDepth = 8 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out JsonElement map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new CheckpointException($"{indexPath} has no 'weight_map' object.");
            }

            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (JsonProperty p in map.EnumerateObject())
            {
                string shard = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : string.Empty;
                if (shard.Length == 0 || shard != Path.GetFileName(shard) || shard is "." or "..")
                {
                    throw new CheckpointException(
                        $"{indexPath} maps '{p.Name}' to '{p.Value}', which is not a file name in the checkpoint folder.");
                }

                result[p.Name] = shard;
            }

            return result;
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{indexPath} is not valid JSON: {e.Message}", e);
        }
    }

    private sealed record Entry(string Name, string Dtype, ScalarType Type, int ElementSize, long[] Shape, long Count, long Begin, long End);

    private sealed record Header(List<Entry> Entries, long DataStart);

    private static Header ReadHeaderOf(string path)
    {
        if (!File.Exists(path))
        {
            throw new CheckpointException($"{path} does not exist.");
        }

        using FileStream stream = File.OpenRead(path);
        long fileLength = stream.Length;
        Span<byte> lengthBytes = stackalloc byte[8];
        if (stream.ReadAtLeast(lengthBytes, 8, throwOnEndOfStream: false) != 8)
        {
            throw new CheckpointException($"{path} is truncated: no safetensors header. Re-download the file.");
        }

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength < 2 || headerLength > MaxHeaderBytes || (long)headerLength > fileLength - 8)
        {
            throw new CheckpointException(
                $"{path} has an invalid safetensors header length ({headerLength}; the file has {fileLength} bytes, the limit is {MaxHeaderBytes}). The file is corrupt or not safetensors.");
        }

        var header = new byte[headerLength];
        stream.ReadExactly(header);
        long dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;
        var entries = new List<Entry>();
        try
        {
            using JsonDocument doc = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 4 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new CheckpointException($"{path}: the safetensors header is not a JSON object. The file is corrupt.");
            }

            foreach (JsonProperty p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "__metadata__")
                {
                    continue;
                }

                entries.Add(ParseEntry(path, p, dataLength));
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or OverflowException)
        {
            throw new CheckpointException($"{path} has a malformed safetensors header: {e.Message}", e);
        }

        // Data ranges may not overlap (the format requires them to tile the data section).
        long previousEnd = 0;
        string? previous = null;
        foreach (Entry e in entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin))
        {
            if (e.Begin < previousEnd)
            {
                throw new CheckpointException($"{path}: tensors '{previous}' and '{e.Name}' overlap in the data section. The file is corrupt.");
            }

            previousEnd = e.End;
            previous = e.Name;
        }

        return new Header(entries, dataStart);
    }

    private static Entry ParseEntry(string path, JsonProperty p, long dataLength)
    {
        JsonElement v = p.Value;
        if (v.ValueKind != JsonValueKind.Object)
        {
            throw new CheckpointException($"{path}: header entry '{p.Name}' is not an object. The file is corrupt.");
        }

        string dtype = v.GetProperty("dtype").GetString() ?? string.Empty;
        (ScalarType type, int size) = dtype switch
        {
            "F64" => (ScalarType.Float64, 8),
            "F32" => (ScalarType.Float32, 4),
            "F16" => (ScalarType.Float16, 2),
            "BF16" => (ScalarType.BFloat16, 2),
            "I64" => (ScalarType.Int64, 8),
            "I32" => (ScalarType.Int32, 4),
            "I16" => (ScalarType.Int16, 2),
            "I8" => (ScalarType.Int8, 1),
            "U8" => (ScalarType.Byte, 1),
            "BOOL" => (ScalarType.Bool, 1),
            _ => throw new CheckpointException(
                $"{path}: tensor '{p.Name}' has dtype {dtype}; supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL (quantized or FP8 checkpoints are not supported natively)."),
        };
        JsonElement shapeElement = v.GetProperty("shape");
        if (shapeElement.ValueKind != JsonValueKind.Array || shapeElement.GetArrayLength() > MaxRank)
        {
            throw new CheckpointException($"{path}: tensor '{p.Name}' has an invalid shape (an array of at most {MaxRank} sizes is expected).");
        }

        long[] shape = shapeElement.EnumerateArray().Select(x => x.GetInt64()).ToArray();
        long count = 1;
        foreach (long s in shape)
        {
            if (s < 0)
            {
                throw new CheckpointException($"{path}: tensor '{p.Name}' has a negative size in its shape. The file is corrupt.");
            }

            count = checked(count * s);
        }

        JsonElement offsetsElement = v.GetProperty("data_offsets");
        long[] offsets = offsetsElement.ValueKind == JsonValueKind.Array ? offsetsElement.EnumerateArray().Select(x => x.GetInt64()).ToArray() : [];
        if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0])
        {
            throw new CheckpointException($"{path}: tensor '{p.Name}' has invalid data_offsets. The file is corrupt.");
        }

        if (checked(count * size) != offsets[1] - offsets[0] || offsets[1] > dataLength)
        {
            throw new CheckpointException(
                $"{path}: tensor '{p.Name}' ({dtype} [{string.Join(", ", shape)}]) does not fit its data range [{offsets[0]}, {offsets[1]}) of a {dataLength}-byte data section. The file is truncated or corrupt: re-download it.");
        }

        return new Entry(p.Name, dtype, type, size, shape, count, offsets[0], offsets[1]);
    }

    private static bool IsFloating(ScalarType t) => t is ScalarType.Float64 or ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16;

    /// <summary>Allocates the tensor in its final dtype and fills it chunk by chunk from the file.</summary>
    private static Tensor ReadTensor(SafeFileHandle handle, string path, long dataStart, Entry e, ScalarType floatTarget, StagingBuffers staging)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new CheckpointException("safetensors files are little-endian; this platform is big-endian.");
        }

        ScalarType target = IsFloating(e.Type) ? floatTarget : e.Type;
        Tensor result = torch.empty(e.Shape, target);
        try
        {
            using Tensor flat = result.view(-1);
            long perChunk = ChunkBytes / e.ElementSize;
            for (long done = 0; done < e.Count; done += perChunk)
            {
                long n = Math.Min(perChunk, e.Count - done);
                long fileOffset = dataStart + e.Begin + (done * e.ElementSize);
                using Tensor destination = flat.narrow(0, done, n);
                if (e.Type == target)
                {
                    ReadExactly(handle, destination.bytes, fileOffset, path, e.Name);
                }
                else
                {
                    using Tensor chunk = staging.For(e.Type).narrow(0, 0, n);
                    ReadExactly(handle, chunk.bytes, fileOffset, path, e.Name);
                    destination.copy_(chunk);
                }
            }

            return result.DetachFromDisposeScope();
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    private static void ReadExactly(SafeFileHandle handle, Span<byte> buffer, long offset, string path, string name)
    {
        while (buffer.Length > 0)
        {
            int read = RandomAccess.Read(handle, buffer, offset);
            if (read <= 0)
            {
                throw new CheckpointException($"{path} ends inside tensor '{name}'. The file is truncated: re-download it.");
            }

            buffer = buffer[read..];
            offset += read;
        }
    }

    /// <summary>One reusable chunk-sized buffer per stored dtype that needs conversion.</summary>
    private sealed class StagingBuffers : IDisposable
    {
        private readonly Dictionary<ScalarType, Tensor> _buffers = [];

        public Tensor For(ScalarType type)
        {
            if (!_buffers.TryGetValue(type, out Tensor? buffer))
            {
                long elements = ChunkBytes / (type is ScalarType.Float64 ? 8 : type is ScalarType.Float32 ? 4 : 2);
                buffer = torch.empty(elements, type).DetachFromDisposeScope();
                _buffers[type] = buffer;
            }

            return buffer;
        }

        public void Dispose()
        {
            foreach (Tensor t in _buffers.Values)
            {
                t.Dispose();
            }
        }
    }
}
