using System.Text.Json;
using System.Text.Json.Nodes;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Tests.Models;

/// <summary>
/// Checkpoints as they are published: bf16 + llama3 rope scaling + tied head (llama3_tied_rope), bf16 sharded + sliding
/// window (mistral_swa_sharded), fp16 + tied head + q/k/v biases (qwen2_tied_fp16). References: transformers 4.46
/// loading them in float32 (tests/fixtures/parity-real, a column subset of the reference logits).
/// </summary>
public class RealCheckpointTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>Absolute tolerance from the issue: float32 logits within 1e-4 of transformers.</summary>
    private const double Tolerance = 1e-4;

    public static TheoryData<string, int> Inputs()
    {
        var data = new TheoryData<string, int>();
        foreach (string model in Fixtures.RealModelNames)
        {
            for (int i = 0; i < 3; i++)
            {
                data.Add(model, i);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Logits_match_transformers(string name, int input)
    {
        TransformerLanguageModel model = Fixtures.RealModel(name);
        using var reference = ReferenceLogits.Load(name, input);
        using var scope = torch.NewDisposeScope();
        Tensor logits = Forward(model, reference.InputIds);
        Assert.Equal(reference.Logits.shape[0], logits.shape[0]);
        Assert.Equal(model.Config.VocabSize, logits.shape[1]);
        double maxDiff = (logits.index_select(1, reference.Columns) - reference.Logits).abs().max().item<float>();
        output.WriteLine($"{name} input {input}: max |logits - transformers| = {maxDiff:E3} over {reference.Columns.shape[0]} columns");
        Assert.True(maxDiff <= Tolerance, $"{name} input {input}: max |logits - transformers| = {maxDiff:E3} over {reference.Columns.shape[0]} columns");
        Assert.Equal(reference.Argmax.data<long>().ToArray(), logits.argmax(1).data<long>().ToArray());
        double sumDiff = (logits.to(ScalarType.Float64).sum(1) - reference.RowSums).abs().max().item<double>();
        output.WriteLine($"row sums differ by at most {sumDiff:E3}");
        Assert.True(sumDiff <= 1e-3, $"{name} input {input}: row sums over the whole vocabulary differ by {sumDiff:E3}");
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Greedy_generation_matches_transformers(string name, int input)
    {
        string dir = Fixtures.RealModelDir(name);
        TransformerLanguageModel model = Fixtures.RealModel(name);
        using JsonDocument doc = Fixtures.Json(Path.Combine(dir, "generation.json"));
        JsonElement entry = doc.RootElement.GetProperty("inputs")[input];
        int[] prompt = Ints(entry.GetProperty("input_ids"));
        int[] generated = InseqBridge.Native.Generation.Generator.Generate(model, GenerationConfig.Load(dir, model.Config), [prompt], new InseqBridge.Native.Generation.GenerationOptions { MaxNewTokens = 8 })[0];
        Assert.Equal(Ints(entry.GetProperty("new_token_ids")), generated);
    }

    [Fact]
    public void Tied_checkpoints_store_no_head_and_load_without_it()
    {
        Assert.DoesNotContain("lm_head.weight", SafetensorsCheckpoint.ReadHeader(Path.Combine(Fixtures.RealModelDir("llama3_tied_rope"), "model.safetensors")).Keys);
        Assert.True(Fixtures.RealModel("llama3_tied_rope").Config.TieWordEmbeddings);
        Assert.DoesNotContain("lm_head.weight", SafetensorsCheckpoint.ReadHeader(Path.Combine(Fixtures.RealModelDir("qwen2_tied_fp16"), "model.safetensors")).Keys);
        Assert.True(Fixtures.RealModel("qwen2_tied_fp16").Config.TieWordEmbeddings);
    }

    [Fact]
    public void Several_eos_ids_are_read_from_generation_config()
    {
        string dir = Fixtures.RealModelDir("llama3_tied_rope");
        var config = GenerationConfig.Load(dir, ModelConfig.Load(dir));
        Assert.Equal([128001, 128008, 128009], config.EosTokenIds);
    }

    [Fact]
    public void Generation_stops_at_any_of_several_eos_ids()
    {
        // The reference continuation, cut at the first occurrence of a token declared as a second eos id.
        string source = Fixtures.RealModelDir("mistral_swa_sharded");
        using JsonDocument doc = Fixtures.Json(Path.Combine(source, "generation.json"));
        JsonElement entry = doc.RootElement.GetProperty("inputs")[0];
        int[] expectedFull = Ints(entry.GetProperty("new_token_ids"));
        int stopIndex = Enumerable.Range(0, expectedFull.Length).Last(i => Array.IndexOf(expectedFull, expectedFull[i]) == i);
        Assert.True(stopIndex > 0, "the reference continuation needs two distinct tokens");
        int stop = expectedFull[stopIndex];
        using var folder = CopyOf("mistral_swa_sharded");
        File.WriteAllText(Path.Combine(folder.Path, "generation_config.json"), $$"""{"bos_token_id": 1, "eos_token_id": [31999, {{stop}}]}""");
        using TransformerLanguageModel model = TransformerLanguageModel.Load(folder.Path, ModelConfig.Load(folder.Path));
        int[] generated = InseqBridge.Native.Generation.Generator.Generate(
            model, GenerationConfig.Load(folder.Path, model.Config), [Ints(entry.GetProperty("input_ids"))], new InseqBridge.Native.Generation.GenerationOptions { MaxNewTokens = 8 })[0];
        Assert.Equal(expectedFull.Take(stopIndex + 1), generated);
    }

    /// <summary>Measured here: bf16 weights and compute move these logits by at most 2.2e-3 (llama3_tied_rope) and
    /// 2.5e-3 (mistral_swa_sharded), fp16 (qwen2_tied_fp16) by 2.9e-4; transformers' own bf16 forward moves them by up
    /// to 3.0e-3 and 3.2e-3 (logits.json, max_abs_diff_forward_in_stored_dtype). The bounds are about twice that.</summary>
    [Theory]
    [InlineData("llama3_tied_rope", ModelDType.BFloat16, 6e-3)]
    [InlineData("mistral_swa_sharded", ModelDType.BFloat16, 6e-3)]
    [InlineData("qwen2_tied_fp16", ModelDType.Float16, 1e-3)]
    public void Reduced_precision_keeps_the_weights_in_that_dtype_within_a_measured_tolerance(string name, ModelDType dtype, double tolerance)
    {
        string dir = Fixtures.RealModelDir(name);
        using TransformerLanguageModel model = TransformerLanguageModel.Load(dir, ModelConfig.Load(dir), dtype);
        Assert.Equal(dtype.ToScalarType(), model.ComputeType);
        double worst = 0;
        for (int input = 0; input < 3; input++)
        {
            using var reference = ReferenceLogits.Load(name, input);
            using var scope = torch.NewDisposeScope();
            Tensor logits = Forward(model, reference.InputIds);
            Assert.Equal(ScalarType.Float32, logits.dtype);
            worst = Math.Max(worst, (logits.index_select(1, reference.Columns) - reference.Logits).abs().max().item<float>());
        }

        output.WriteLine($"{name} in {dtype}: max |logits - transformers float32| = {worst:E3}");
        Assert.True(worst <= tolerance, $"{name} in {dtype}: max |logits - transformers float32| = {worst:E3} > {tolerance:E1}");
        Assert.True(worst > 0, "a reduced precision cannot be exact");
    }

    [Fact]
    public void A_wrong_shape_names_the_key_at_load_time()
    {
        using var folder = CopyOf("llama3_tied_rope");
        EditConfig(folder.Path, c => c["intermediate_size"] = 96);
        var e = Assert.Throws<Errors.CheckpointException>(() => TransformerLanguageModel.Load(folder.Path, ModelConfig.Load(folder.Path)));
        Assert.Contains("'model.layers.0.mlp.gate_proj.weight'", e.Message, StringComparison.Ordinal);
        Assert.Contains("[64, 32]", e.Message, StringComparison.Ordinal);
        Assert.Contains("[96, 32]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Other_architectures_check_their_declared_weights_too()
    {
        using var folder = new TemporaryFolder();
        foreach (string file in Directory.GetFiles(Fixtures.ModelDir("gpt2")))
        {
            File.Copy(file, Path.Combine(folder.Path, Path.GetFileName(file)));
        }

        EditConfig(folder.Path, c => c["n_inner"] = 40);
        var e = Assert.Throws<Errors.CheckpointException>(() => TransformerLanguageModel.Load(folder.Path, ModelConfig.Load(folder.Path)));
        Assert.Contains("'transformer.h.0.mlp.c_fc.weight'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Weights_given_in_memory_are_checked_too()
    {
        string dir = Fixtures.RealModelDir("qwen2_tied_fp16");
        ModelConfig config = ModelConfig.Load(dir);
        Dictionary<string, Tensor> weights = SafetensorsCheckpoint.Load(dir);
        weights.Remove("model.norm.weight", out Tensor? removed);
        removed!.Dispose();
        var e = Assert.Throws<Errors.CheckpointException>(() => TransformerLanguageModel.FromWeights(config, weights));
        Assert.Contains("'model.norm.weight'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_weight_names_the_key_at_load_time()
    {
        using var folder = CopyOf("mistral_swa_sharded");
        string index = Path.Combine(folder.Path, "model.safetensors.index.json");
        JsonObject root = JsonNode.Parse(File.ReadAllText(index))!.AsObject();
        string shard = root["weight_map"]!["lm_head.weight"]!.GetValue<string>();
        root["weight_map"]!.AsObject().Remove("lm_head.weight");
        File.WriteAllText(index, root.ToJsonString());
        File.Delete(Path.Combine(folder.Path, shard));
        var e = Assert.Throws<Errors.CheckpointException>(() => TransformerLanguageModel.Load(folder.Path, ModelConfig.Load(folder.Path)));
        Assert.Contains("'lm_head.weight'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_shard_that_lacks_an_indexed_tensor_is_reported()
    {
        using var folder = CopyOf("mistral_swa_sharded");
        string index = Path.Combine(folder.Path, "model.safetensors.index.json");
        JsonObject root = JsonNode.Parse(File.ReadAllText(index))!.AsObject();
        root["weight_map"]!["model.norm.weight"] = "model-00002-of-00003.safetensors";
        File.WriteAllText(index, root.ToJsonString());
        var e = Assert.Throws<Errors.CheckpointException>(() => TransformerLanguageModel.Load(folder.Path, ModelConfig.Load(folder.Path)));
        Assert.Contains("'model.norm.weight'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unsupported_rope_type_is_named()
    {
        using var folder = CopyOf("llama3_tied_rope");
        EditConfig(folder.Path, c => c["rope_scaling"] = new JsonObject { ["rope_type"] = "yarn", ["factor"] = 4.0 });
        var e = Assert.Throws<Errors.UnsupportedModelException>(() => ModelConfig.Load(folder.Path));
        Assert.Contains("'yarn'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Linear_rope_scaling_read_from_the_old_type_key_divides_the_positions()
    {
        // RoPE with inv_freq / f at positions f * q equals plain RoPE at positions q.
        using var linear = CopyOf("llama3_tied_rope");
        EditConfig(linear.Path, c => c["rope_scaling"] = new JsonObject { ["type"] = "linear", ["factor"] = 2.0 });
        using var plain = CopyOf("llama3_tied_rope");
        EditConfig(plain.Path, c => c["rope_scaling"] = null);
        using TransformerLanguageModel scaled = TransformerLanguageModel.Load(linear.Path, ModelConfig.Load(linear.Path));
        using TransformerLanguageModel reference = TransformerLanguageModel.Load(plain.Path, ModelConfig.Load(plain.Path));
        Assert.Equal("linear", ((LlamaConfig)scaled.Config).RopeScaling!.Type);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        Tensor ids = torch.tensor(SixIds, [1, 6]);
        Tensor doubled = SafeScalars.Arange(0, 12, 2).unsqueeze(0);
        Tensor a = scaled.Decode(scaled.EmbedDecoderTokens(ids), null, doubled, null, null, null, ForwardOptions.None).Logits;
        Tensor b = reference.Decode(reference.EmbedDecoderTokens(ids), null, null, null, null, null, ForwardOptions.None).Logits;
        double diff = (a - b).abs().max().item<float>();
        Assert.True(diff <= 1e-5, $"max diff {diff:E3}");
        Tensor unscaled = scaled.Decode(scaled.EmbedDecoderTokens(ids), null, null, null, null, null, ForwardOptions.None).Logits;
        Assert.True((unscaled - b).abs().max().item<float>() > 1e-5, "linear scaling must change the logits at positions 0..5");
    }

    [Fact]
    public void Dynamic_rope_scaling_grows_theta_beyond_max_position_embeddings()
    {
        // max_position_embeddings 4, factor 2, 6 tokens: theta' = theta * (2 * 6 / 4 - 1)^(d / (d - 2)) (head_dim d = 8).
        const double theta = 500000.0, factor = 2.0;
        using var dynamic = CopyOf("llama3_tied_rope");
        EditConfig(dynamic.Path, c =>
        {
            c["rope_scaling"] = new JsonObject { ["rope_type"] = "dynamic", ["factor"] = factor };
            c["max_position_embeddings"] = 4;
        });
        using var grown = CopyOf("llama3_tied_rope");
        EditConfig(grown.Path, c =>
        {
            c["rope_theta"] = theta * Math.Pow((factor * 6 / 4) - (factor - 1), 8.0 / 6.0);
            c["rope_scaling"] = null;
        });
        using TransformerLanguageModel a = TransformerLanguageModel.Load(dynamic.Path, ModelConfig.Load(dynamic.Path));
        using TransformerLanguageModel b = TransformerLanguageModel.Load(grown.Path, ModelConfig.Load(grown.Path));
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        Tensor ids = torch.tensor(SixIds, [1, 6]);
        Tensor la = a.Decode(a.EmbedDecoderTokens(ids), null, null, null, null, null, ForwardOptions.None).Logits;
        Tensor lb = b.Decode(b.EmbedDecoderTokens(ids), null, null, null, null, null, ForwardOptions.None).Logits;
        double diff = (la - lb).abs().max().item<float>();
        Assert.True(diff <= 1e-5, $"max diff {diff:E3}");

        // Within max_position_embeddings, dynamic scaling is plain RoPE.
        using var plain = CopyOf("llama3_tied_rope");
        EditConfig(plain.Path, c => c["rope_scaling"] = null);
        using TransformerLanguageModel p = TransformerLanguageModel.Load(plain.Path, ModelConfig.Load(plain.Path));
        Tensor shortIds = ids.narrow(1, 0, 4);
        Tensor sa = a.Decode(a.EmbedDecoderTokens(shortIds), null, null, null, null, null, ForwardOptions.None).Logits;
        Tensor sp = p.Decode(p.EmbedDecoderTokens(shortIds), null, null, null, null, null, ForwardOptions.None).Logits;
        Assert.Equal(0.0, (sa - sp).abs().max().item<float>());
        Assert.True((la - p.Decode(p.EmbedDecoderTokens(ids), null, null, null, null, null, ForwardOptions.None).Logits).abs().max().item<float>() > 1e-5,
            "beyond max_position_embeddings dynamic scaling must change the logits");
    }

    [Fact]
    public void Mistral_ignores_rope_scaling_as_transformers_does()
    {
        using var folder = CopyOf("mistral_swa_sharded");
        EditConfig(folder.Path, c => c["rope_scaling"] = new JsonObject { ["rope_type"] = "linear", ["factor"] = 4.0 });
        Assert.Null(((LlamaConfig)ModelConfig.Load(folder.Path)).RopeScaling);
    }

    private static readonly long[] SixIds = [128000, 9906, 1917, 2366, 19, 25];

    [Fact]
    public void Qwen2_slides_only_from_max_window_layers_on()
    {
        using var folder = CopyOf("qwen2_tied_fp16");
        EditConfig(folder.Path, c =>
        {
            c["use_sliding_window"] = true;
            c["sliding_window"] = 3;
            c["max_window_layers"] = 1;
        });
        var config = (LlamaConfig)ModelConfig.Load(folder.Path);
        Assert.Equal([null, 3], config.LayerSlidingWindows);
        Assert.Equal([null, null], ((LlamaConfig)Fixtures.RealModel("qwen2_tied_fp16").Config).LayerSlidingWindows);
        Assert.Equal([4, 4], ((LlamaConfig)Fixtures.RealModel("mistral_swa_sharded").Config).LayerSlidingWindows);
    }

    [Fact]
    public void Corrupt_headers_are_typed_errors()
    {
        using var folder = new TemporaryFolder();
        string path = folder.File("model.safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes(1UL << 40), .. "{}"u8.ToArray()]);
        Assert.Contains("header length", Assert.Throws<Errors.CheckpointException>(() => SafetensorsCheckpoint.ReadHeader(path)).Message, StringComparison.Ordinal);

        byte[] header = """{"w":{"dtype":"F32","shape":[4,4],"data_offsets":[0,64]}}"""u8.ToArray();
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)header.Length), .. header, .. new byte[32]]);
        Assert.Contains("'w'", Assert.Throws<Errors.CheckpointException>(() => SafetensorsCheckpoint.ReadHeader(path)).Message, StringComparison.Ordinal);

        header = """{"w":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}"""u8.ToArray();
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)header.Length), .. header, .. new byte[4]]);
        Assert.Contains("F8_E4M3", Assert.Throws<Errors.CheckpointException>(() => SafetensorsCheckpoint.ReadHeader(path)).Message, StringComparison.Ordinal);

        header = """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"""u8.ToArray();
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)header.Length), .. header, .. new byte[12]]);
        Assert.Contains("overlap", Assert.Throws<Errors.CheckpointException>(() => SafetensorsCheckpoint.ReadHeader(path)).Message, StringComparison.Ordinal);
    }

    internal static Tensor Forward(TransformerLanguageModel model, Tensor inputIds)
    {
        using var noGrad = torch.no_grad();
        return model.Decode(model.EmbedDecoderTokens(inputIds.unsqueeze(0)), null, null, null, null, null, ForwardOptions.None).Logits[0];
    }

    internal static TemporaryFolder CopyOf(string name)
    {
        var folder = new TemporaryFolder();
        foreach (string file in Directory.GetFiles(Fixtures.RealModelDir(name)))
        {
            File.Copy(file, Path.Combine(folder.Path, Path.GetFileName(file)));
        }

        return folder;
    }

    internal static void EditConfig(string dir, Action<JsonObject> edit)
    {
        string path = Path.Combine(dir, "config.json");
        JsonObject config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(config);
        File.WriteAllText(path, config.ToJsonString());
    }

    internal static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    /// <summary>One input of logits.subset.safetensors (see tests/fixtures/parity-real/README.md).</summary>
    internal sealed class ReferenceLogits : IDisposable
    {
        private readonly Dictionary<string, Tensor> _all;

        private ReferenceLogits(Dictionary<string, Tensor> all, int input)
        {
            _all = all;
            InputIds = all[$"input_{input}.input_ids"];
            Columns = all[$"input_{input}.columns"];
            Logits = all[$"input_{input}.logits"];
            Argmax = all[$"input_{input}.argmax"];
            RowSums = all[$"input_{input}.row_sums"].to(ScalarType.Float64);
        }

        public Tensor InputIds { get; }

        public Tensor Columns { get; }

        public Tensor Logits { get; }

        public Tensor Argmax { get; }

        public Tensor RowSums { get; }

        public static ReferenceLogits Load(string name, int input) =>
            new(SafetensorsCheckpoint.LoadFile(Path.Combine(Fixtures.RealModelDir(name), "logits.subset.safetensors")), input);

        public void Dispose()
        {
            RowSums.Dispose();
            foreach (Tensor t in _all.Values)
            {
                t.Dispose();
            }
        }
    }
}
