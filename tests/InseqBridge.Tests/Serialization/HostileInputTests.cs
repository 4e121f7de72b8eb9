using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using InseqBridge.Data;
using InseqBridge.Serialization;

namespace InseqBridge.Tests.Serialization;

/// <summary>Files built to hurt a reader (deep nesting, gzip bombs, lying shapes) fail fast with a typed error that
/// names the problem, within a small memory budget.</summary>
public sealed class HostileInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hostile").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Fixture(string name = "bart__saliency__forced.json") =>
        File.ReadAllText(Path.Combine(ParityFixtures.Attributions, name));

    [Theory]
    [InlineData(257)]
    [InlineData(10_000)]
    [InlineData(100_000)]
    [InlineData(1_000_000)]
    public void Deep_nesting_is_refused_without_recursing_to_the_bottom(int depth)
    {
        string path = Path.Combine(_dir, "deep.json");
        File.WriteAllText(path, new string('[', depth));
        var e = Assert.Throws<InseqJsonException>(() => InseqJson.Load(path));
        Assert.Contains("nests deeper than 256 levels", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deep_objects_are_refused_too()
    {
        var sb = new StringBuilder();
        for (int i = 0; i < 50_000; i++)
        {
            sb.Append("{\"a\":");
        }

        var e = Assert.Throws<InseqJsonException>(() => InseqJson.Parse(sb.ToString()));
        Assert.Contains("nests deeper", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_depth_limit_is_configurable()
    {
        string nested = new string('[', 300) + new string(']', 300);
        Assert.Throws<InseqJsonException>(() => InseqJson.Parse(nested));

        // With a higher limit the nesting parses; the file then fails for not being an Inseq result.
        var e = Assert.Throws<InseqJsonException>(() => InseqJson.Parse(nested, null, new InseqReadLimits { MaxDepth = 400 }));
        Assert.DoesNotContain("nests deeper", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Real_files_nest_well_within_the_limit()
    {
        foreach (string file in Directory.EnumerateFiles(ParityFixtures.Attributions, "*.json").Take(40))
        {
            Assert.NotNull(InseqJson.Load(file));
        }
    }

    /// <summary>Replaces the step score of the first sequence with a 0.6 array of <paramref name="declared"/>
    /// elements whose gzip data inflates to <paramref name="zeroBytes"/> zero bytes.</summary>
    private static string WithGzipArray(long declared, int zeroBytes, string where = "step")
    {
        var root = JsonNode.Parse(Fixture())!;
        var seq = root["attributes"]!["sequence_attributions"]![0]!["attributes"]!;
        byte[] compressed;
        using (var buffer = new MemoryStream())
        {
            using (var gzip = new GZipStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
            {
                var chunk = new byte[1 << 20];
                for (int left = zeroBytes; left > 0; left -= chunk.Length)
                {
                    gzip.Write(chunk, 0, Math.Min(chunk.Length, left));
                }
            }

            compressed = buffer.ToArray();
        }

        var array = new JsonObject
        {
            ["__ndarray__"] = "b64.gz:" + Convert.ToBase64String(compressed),
            ["dtype"] = "float32",
            ["shape"] = new JsonArray(declared),
        };
        if (where == "step")
        {
            seq["step_scores"] = new JsonObject { ["probability"] = array };
        }
        else
        {
            seq["source_attributions"] = array;
        }

        return root.ToJsonString();
    }

    [Fact]
    public void A_gzip_bomb_with_a_shape_that_does_not_fit_the_tokens_is_refused_before_inflating()
    {
        // 64 MiB of zeros declared as [67108864] step scores for an 8-step sequence.
        string json = WithGzipArray(declared: 1 << 26, zeroBytes: 64 << 20);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<InseqJsonException>(() => InseqJson.Parse(json, "bomb.json"));
        clock.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("expected 8 steps", e.Message, StringComparison.Ordinal);
        Assert.True(allocated < 64L << 20, $"allocated {allocated} bytes");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
    }

    [Fact]
    public void A_gzip_bomb_behind_a_fitting_shape_inflates_only_the_declared_size()
    {
        // The declared shape fits (8 steps) but the gzip data inflates to 64 MiB.
        string json = WithGzipArray(declared: 8, zeroBytes: 64 << 20);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InseqJsonException>(() => InseqJson.Parse(json, "bomb.json"));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("more than the 32 bytes", e.Message, StringComparison.Ordinal);
        Assert.True(allocated < 64L << 20, $"allocated {allocated} bytes");
    }

    [Fact]
    public void Source_attributions_with_a_lying_shape_are_refused_before_inflating()
    {
        string json = WithGzipArray(declared: 1 << 24, zeroBytes: 1 << 20, where: "source");
        var e = Assert.Throws<InseqJsonException>(() => InseqJson.Parse(json, "bomb.json"));
        Assert.Contains("does not fit", e.Message, StringComparison.Ordinal);
        Assert.Contains("source_attributions", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_tensor_size_cap_is_checked_before_decoding()
    {
        string json = Fixture();
        var e = Assert.Throws<InseqJsonException>(() => InseqJson.Parse(json, "x.json", new InseqReadLimits { MaxTensorElements = 4 }));
        Assert.Contains("MaxTensorElements", e.Message, StringComparison.Ordinal);
        Assert.NotNull(InseqJson.Parse(json, "x.json", InseqReadLimits.Default));
    }

    [Fact]
    public void A_whole_file_gzip_bomb_is_cut_at_the_text_cap()
    {
        string path = Path.Combine(_dir, "bomb.json.gz");
        using (var file = File.Create(path))
        using (var gzip = new GZipStream(file, CompressionLevel.SmallestSize))
        {
            var spaces = new byte[1 << 20];
            Array.Fill(spaces, (byte)' ');
            for (int i = 0; i < 64; i++)
            {
                gzip.Write(spaces);
            }
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InseqJsonException>(() => InseqJson.Load(path, new InseqReadLimits { MaxTextBytes = 1 << 20 }));
        Assert.Contains("MaxTextBytes", e.Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16L << 20);
    }

    [Fact]
    public void A_file_over_the_size_cap_is_refused_before_reading()
    {
        string path = Path.Combine(_dir, "big.json");
        File.WriteAllText(path, Fixture());
        var e = Assert.Throws<InseqJsonException>(() => InseqJson.Load(path, new InseqReadLimits { MaxFileBytes = 100 }));
        Assert.Contains("MaxFileBytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_is_not_read_as_a_file()
    {
        var e = Assert.Throws<InseqJsonException>(() => InseqJson.Load(_dir));
        Assert.Contains("folder", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[-1]")]
    [InlineData("[4294967296]")]
    [InlineData("[65536, 65536, 65536]")]
    [InlineData("[\"8\"]")]
    public void Impossible_shapes_are_refused(string shape)
    {
        var root = JsonNode.Parse(Fixture())!;
        var seq = root["attributes"]!["sequence_attributions"]![0]!["attributes"]!;
        seq["step_scores"] = JsonNode.Parse("{\"probability\": {\"__ndarray__\": \"b64:AAAAAA==\", \"dtype\": \"float32\", \"shape\": " + shape + "}}");
        Assert.Throws<InseqJsonException>(() => InseqJson.Parse(root.ToJsonString()));
    }

    [Fact]
    public void Safetensors_shapes_that_overflow_are_refused()
    {
        // A header whose shape product wraps around to 0 in 64 bits must not pass the size check.
        string header = """{"attribution":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}""";
        byte[] h = Encoding.UTF8.GetBytes(header);
        var blob = new byte[8 + h.Length];
        BitConverter.TryWriteBytes(blob.AsSpan(0, 8), (ulong)h.Length);
        h.CopyTo(blob, 8);
        Assert.Throws<FormatException>(() => SafetensorsFormat.Read(blob));
    }

    [Fact]
    public void Safetensors_numeric_dtype_names_are_refused()
    {
        string header = """{"attribution":{"dtype":"7","shape":[1],"data_offsets":[0,4]}}""";
        byte[] h = Encoding.UTF8.GetBytes(header);
        var blob = new byte[8 + h.Length + 4];
        BitConverter.TryWriteBytes(blob.AsSpan(0, 8), (ulong)h.Length);
        h.CopyTo(blob, 8);
        Assert.Throws<FormatException>(() => SafetensorsFormat.Read(blob));
    }

    [Fact]
    public void Attributed_positions_outside_the_target_are_refused()
    {
        var root = JsonNode.Parse(Fixture())!;
        root["attributes"]!["sequence_attributions"]![0]!["attributes"]!["attr_pos_end"] = 1000;
        var e = Assert.Throws<InseqJsonException>(() => InseqJson.Parse(root.ToJsonString()));
        Assert.Contains("do not fit", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ragged_nested_lists_are_refused()
    {
        var root = JsonNode.Parse(Fixture())!;
        var seq = root["attributes"]!["sequence_attributions"]![0]!["attributes"]!;
        int steps = (int)seq["attr_pos_end"]!.GetValue<long>() - (int)seq["attr_pos_start"]!.GetValue<long>();
        var rows = new JsonArray();
        for (int i = 0; i < steps; i++)
        {
            rows.Add(i == 1 ? new JsonArray(1.0, 2.0, 3.0) : new JsonArray(1.0));
        }

        seq["step_scores"] = new JsonObject { ["probability"] = rows };
        Assert.Throws<InseqJsonException>(() => InseqJson.Parse(root.ToJsonString()));
    }

    [Fact]
    public void Loading_through_the_result_type_uses_the_same_limits()
    {
        string path = Path.Combine(_dir, "deep.json");
        File.WriteAllText(path, new string('{', 100_000));
        Assert.Throws<InseqJsonException>(() => FeatureAttributionOutput.Load(path));
    }
}
