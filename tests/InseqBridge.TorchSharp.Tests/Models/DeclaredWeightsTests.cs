using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using InseqBridge.Errors;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Models;

namespace InseqBridge.Native.Tests.Models;

/// <summary>
/// The declared weight tables of T5/MT5, GPT-NeoX, OPT, Gemma, Phi and M2M100: each matches its real fixture
/// checkpoints exactly (every stored tensor declared, every required one stored, same shapes), and a copy of a
/// fixture with one weight removed or mis-shaped fails at load time with a checkpoint error naming the key (and
/// both shapes), before any data is read.
/// </summary>
public class DeclaredWeightsTests
{
    /// <summary>Fixture folders of the six architectures (parity, parity-real and reference-asymmetric).</summary>
    public static TheoryData<string> Checkpoints() =>
    [
        Fixtures.ModelDir("t5"), Fixtures.ModelDir("mt5"), Fixtures.ModelDir("gpt_neox"), Fixtures.ModelDir("opt"),
        Fixtures.ModelDir("gemma"), Fixtures.ModelDir("phi"), Fixtures.ModelDir("m2m100"), Fixtures.ModelDir("m2m100_asym"),
    ];

    [Theory]
    [MemberData(nameof(Checkpoints))]
    public void The_table_matches_the_fixture_checkpoint_exactly(string dir)
    {
        ModelConfig config = ModelConfig.Load(dir);
        IReadOnlyDictionary<string, (string Dtype, long[] Shape)> stored = SafetensorsCheckpoint.ReadHeader(Path.Combine(dir, "model.safetensors"));
        IReadOnlyList<WeightSpec> declared = TransformerLanguageModel.DeclaredWeights(config, stored.Keys.ToList())
            ?? throw new Xunit.Sdk.XunitException($"{config.ModelType} declares no weights");

        var names = declared.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(declared.Count, names.Count);
        List<string> undeclared = stored.Keys.Where(k => !names.Contains(k)).ToList();
        Assert.True(undeclared.Count == 0, $"stored but not declared (the loader would skip them): {string.Join(", ", undeclared)}");
        List<string> missing = declared.Where(s => !s.Optional && !stored.ContainsKey(s.Name)).Select(s => s.Name).ToList();
        Assert.True(missing.Count == 0, $"declared as required but not stored: {string.Join(", ", missing)}");
        foreach (WeightSpec spec in declared.Where(s => stored.ContainsKey(s.Name)))
        {
            Assert.True(stored[spec.Name].Shape.SequenceEqual(spec.Shape), $"{spec.Name}: stored [{string.Join(", ", stored[spec.Name].Shape)}], declared [{string.Join(", ", spec.Shape)}]");
        }

        using TransformerLanguageModel model = TransformerLanguageModel.Load(dir, config);
        Assert.Equal(config.VocabSize, model.EmbeddingMatrix.shape[0]);
    }

    [Theory]
    [InlineData("t5", "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight")]
    [InlineData("t5", "decoder.block.1.layer.2.DenseReluDense.wi.weight")]
    [InlineData("mt5", "decoder.block.1.layer.2.DenseReluDense.wi_0.weight")]
    [InlineData("mt5", "lm_head.weight")]
    [InlineData("gpt_neox", "gpt_neox.final_layer_norm.bias")]
    [InlineData("gpt_neox", "embed_out.weight")]
    [InlineData("opt", "model.decoder.embed_positions.weight")]
    [InlineData("opt", "model.decoder.layers.1.self_attn_layer_norm.weight")]
    [InlineData("gemma", "model.norm.weight")]
    [InlineData("phi", "model.layers.1.input_layernorm.bias")]
    [InlineData("m2m100", "model.encoder.layer_norm.weight")]
    [InlineData("m2m100", "model.decoder.layers.1.encoder_attn.v_proj.bias")]
    public void A_copy_missing_one_weight_names_it_at_load(string modelName, string key)
    {
        using var folder = new TemporaryFolder();
        CopyWithChange(Fixtures.ModelDir(modelName), folder.Path, key, newShape: null);
        var error = Assert.Throws<CheckpointException>(() => TransformerLanguageModel.Load(folder.Path, ModelConfig.Load(folder.Path)));
        Assert.Contains($"'{key}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("has no weight", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("t5", "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight")]
    [InlineData("mt5", "encoder.block.1.layer.1.DenseReluDense.wi_1.weight")]
    [InlineData("gpt_neox", "gpt_neox.layers.1.attention.query_key_value.weight")]
    [InlineData("opt", "model.decoder.embed_positions.weight")]
    [InlineData("gemma", "model.layers.0.self_attn.k_proj.weight")]
    [InlineData("phi", "model.layers.1.mlp.fc1.weight")]
    [InlineData("m2m100", "model.decoder.layers.0.fc1.weight")]
    public void A_copy_with_one_mis_shaped_weight_names_it_and_both_shapes(string modelName, string key)
    {
        string source = Fixtures.ModelDir(modelName);
        long[] shape = SafetensorsCheckpoint.ReadHeader(Path.Combine(source, "model.safetensors"))[key].Shape;
        Assert.True(shape.Length == 2 && shape[0] != shape[1], "the test transposes a non-square matrix");
        long[] transposed = [shape[1], shape[0]];

        using var folder = new TemporaryFolder();
        CopyWithChange(source, folder.Path, key, transposed);
        var error = Assert.Throws<CheckpointException>(() => TransformerLanguageModel.Load(folder.Path, ModelConfig.Load(folder.Path)));
        Assert.Contains($"'{key}'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"[{shape[1]}, {shape[0]}]", error.Message, StringComparison.Ordinal);
        Assert.Contains($"[{shape[0]}, {shape[1]}]", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Copies a checkpoint folder, rewriting model.safetensors without <paramref name="key"/> (when
    /// <paramref name="newShape"/> is null) or with its header shape replaced by one of the same element count.
    /// </summary>
    private static void CopyWithChange(string sourceDir, string targetDir, string key, long[]? newShape)
    {
        foreach (string file in Directory.GetFiles(sourceDir))
        {
            if (Path.GetFileName(file) != "model.safetensors")
            {
                File.Copy(file, Path.Combine(targetDir, Path.GetFileName(file)));
            }
        }

        byte[] bytes = File.ReadAllBytes(Path.Combine(sourceDir, "model.safetensors"));
        int headerLength = (int)BitConverter.ToInt64(bytes, 0);
        JsonObject header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, headerLength))!.AsObject();
        Assert.True(header.ContainsKey(key), $"{key} is not in the fixture {sourceDir}");
        long dataStart = 8 + headerLength;

        var output = new JsonObject();
        var data = new MemoryStream();
        var entries = header.Where(kv => kv.Key != "__metadata__" && !(newShape is null && kv.Key == key))
            .OrderBy(kv => kv.Value!["data_offsets"]![0]!.GetValue<long>());
        foreach (var (name, node) in entries)
        {
            long begin = node!["data_offsets"]![0]!.GetValue<long>(), end = node["data_offsets"]![1]!.GetValue<long>();
            long offset = data.Length;
            data.Write(bytes, (int)(dataStart + begin), (int)(end - begin));
            JsonNode shape = name == key && newShape is not null ? JsonSerializer.SerializeToNode(newShape)! : node["shape"]!.DeepClone();
            output[name] = new JsonObject
            {
                ["dtype"] = node["dtype"]!.GetValue<string>(),
                ["shape"] = shape,
                ["data_offsets"] = new JsonArray(offset, data.Length),
            };
        }

        byte[] json = Encoding.UTF8.GetBytes(output.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        using FileStream target = File.Create(Path.Combine(targetDir, "model.safetensors"));
        target.Write(BitConverter.GetBytes((long)padded));
        target.Write(json);
        target.Write(Enumerable.Repeat((byte)' ', padded - json.Length).ToArray());
        data.Position = 0;
        data.CopyTo(target);
    }
}
