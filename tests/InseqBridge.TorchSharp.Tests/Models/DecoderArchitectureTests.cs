using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Errors;
using InseqBridge.Native.Attribution;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Models;
using InseqBridge.Native.Tests.Attribution;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace InseqBridge.Native.Tests.Models;

/// <summary>
/// GPT-NeoX, OPT, Gemma and Phi beyond the reference cases: every attribution method runs on each (and fast mode
/// equals reference mode), the key/value cache and padding leave the logits unchanged, layer methods on the embedding
/// layer equal their input-embedding counterparts (Gemma scales its embeddings inside the model, as transformers),
/// and incomplete or unsupported checkpoints fail at load time with a typed error naming the problem.
/// </summary>
public class DecoderArchitectureTests(ITestOutputHelper output)
{
    public static readonly string[] Architectures = ["gpt_neox", "opt", "gemma", "phi"];

    /// <summary>Small arguments so that each method runs in well under a second on these models.</summary>
    private static readonly Dictionary<string, Dictionary<string, string>> MethodArguments = new()
    {
        ["integrated_gradients"] = new() { ["n_steps"] = "4" },
        ["layer_integrated_gradients"] = new() { ["n_steps"] = "4" },
        ["sequential_integrated_gradients"] = new() { ["n_steps"] = "4" },
        ["discretized_integrated_gradients"] = new() { ["n_steps"] = "4" },
        ["gradient_shap"] = new() { ["n_samples"] = "2" },
        ["lime"] = new() { ["n_samples"] = "8" },
        ["reagent"] = new() { ["max_probe_steps"] = "3", ["num_probes"] = "2", ["keep_top_n"] = "2" },
    };

    public static TheoryData<string, string> EveryMethod()
    {
        var data = new TheoryData<string, string>();
        foreach (string model in Architectures)
        {
            foreach (string method in AttributionMethod.KnownIds)
            {
                data.Add(model, method);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EveryMethod))]
    public void Every_method_runs_and_fast_mode_matches_reference_mode(string modelName, string methodId)
    {
        NativeAttributionModel model = AttributionParityTests.Model(modelName);
        AttributionMethod method = AttributionMethod.FromId(methodId, MethodArguments.GetValueOrDefault(methodId));
        var request = new AttributionRequest(["Hello world", "The cat"])
        {
            GeneratedTexts = ["Hello world, this is", "The cat sat on the"],
            Method = method,
            StepScores = method.IsFinalStepMethod ? [] : [StepFunction.FromId("probability")],
        };

        FeatureAttributionOutput reference = model.Attribute(request with { Mode = ExecutionMode.Reference });
        FeatureAttributionOutput fast = model.Attribute(request with { Mode = ExecutionMode.Fast });
        Assert.Equal(2, reference.SequenceAttributions.Count);
        foreach (FeatureAttributionSequenceOutput sequence in reference.SequenceAttributions)
        {
            NdArray? target = sequence.TargetAttributions;
            Assert.True(methodId == "dummy" || target is not null, $"{modelName} {methodId}: no target attributions");
            Assert.All(target?.ToArray() ?? [], v => Assert.False(float.IsInfinity(v), $"{modelName} {methodId}: infinite attribution"));
            // ReAGent leaves a step NaN when its probes never meet the stopping condition within max_probe_steps, which
            // happens on forced (non-greedy) targets with these few probe steps.
            Assert.Contains(target?.ToArray() ?? [float.NaN], v => !float.IsNaN(v) || methodId is "dummy" or "reagent");
        }

        // Gemma's fp32 noise between the two modes reaches 2.6e-5 of the largest value (see ExecutionModeParityTests.Tolerance).
        ParityTolerance? tolerance = modelName == "gemma" ? new ParityTolerance(1e-5, 5e-5) : null;
        double worst = AttributionParityTests.Compare(reference, fast, $"{modelName} {methodId} (fast vs reference)", tolerance);
        output.WriteLine($"{modelName} {methodId}: max relative diff fast vs reference {worst:E2}");
    }

    /// <summary>Config variants made by python/reference/make_architecture_variants.py with transformers 4.39.</summary>
    public static TheoryData<string> Variants() =>
        new(Directory.GetDirectories(VariantsDir).Select(Path.GetFileName).Order().Select(x => x!));

    private static string VariantsDir => Path.Combine(Fixtures.RepositoryRoot, "tests", "fixtures", "arch-variants");

    [Theory]
    [MemberData(nameof(Variants))]
    public void Config_variants_match_transformers_logits_and_greedy_generation(string variant)
    {
        string dir = Path.Combine(VariantsDir, variant);
        ModelConfig config = ModelConfig.Load(dir);
        using TransformerLanguageModel model = TransformerLanguageModel.Load(dir, config);
        using (var scope = torch.NewDisposeScope())
        using (torch.no_grad())
        {
            Dictionary<string, Tensor> reference = SafetensorsCheckpoint.LoadFile(Path.Combine(dir, "logits.safetensors"));
            try
            {
                for (int i = 0; reference.ContainsKey($"input_{i}.input_ids"); i++)
                {
                    Tensor ids = reference[$"input_{i}.input_ids"].unsqueeze(0);
                    Tensor logits = model.Decode(model.EmbedDecoderTokens(ids), null, null, null, null, null, ForwardOptions.None).Logits[0];
                    double diff = (logits - reference[$"input_{i}.logits"]).abs().max().item<float>();
                    output.WriteLine($"{variant} input {i}: max |logits - transformers| = {diff:E2}");
                    Assert.True(diff <= 1e-4, $"{variant} input {i}: max |logits - transformers| = {diff:E3}");
                }
            }
            finally
            {
                foreach (Tensor t in reference.Values)
                {
                    t.Dispose();
                }
            }
        }

        var generation = GenerationConfig.Load(dir, config);
        using var doc = Fixtures.Json(Path.Combine(dir, "generation.json"));
        foreach (var entry in doc.RootElement.GetProperty("inputs").EnumerateArray())
        {
            int[] input = entry.GetProperty("input_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            int[] expected = entry.GetProperty("new_token_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            int[] actual = InseqBridge.Native.Generation.Generator.Generate(model, generation, [input], new InseqBridge.Native.Generation.GenerationOptions { MaxNewTokens = expected.Length })[0];
            Assert.Equal(expected, actual);
        }
    }

    [Theory]
    [MemberData(nameof(ArchitectureNames))]
    public void Layer_methods_on_the_embedding_layer_equal_the_input_methods(string modelName)
    {
        NativeAttributionModel model = AttributionParityTests.Model(modelName);
        var request = new AttributionRequest(["Hello world"]) { GeneratedTexts = ["Hello world, this is"] };
        FeatureAttributionOutput layer = model.Attribute(request with { Method = AttributionMethod.FromId("layer_gradient_x_activation") });
        FeatureAttributionOutput input = model.Attribute(request with { Method = AttributionMethod.FromId("input_x_gradient") });
        AttributionParityTests.Compare(input, layer, $"{modelName} layer_gradient_x_activation vs input_x_gradient");
    }

    public static TheoryData<string> ArchitectureNames() => new(Architectures);

    [Theory]
    [MemberData(nameof(ArchitectureNames))]
    public void Cached_decoding_and_right_padding_give_the_full_forward_logits(string modelName)
    {
        TransformerLanguageModel model = Fixtures.Model(modelName);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        Tensor ids = torch.tensor(new long[] { 5, 17, 42, 99, 7, 300, 12 }).unsqueeze(0);
        Tensor full = model.Decode(model.EmbedDecoderTokens(ids), null, null, null, null, null, ForwardOptions.None).Logits;

        // Prefix of 4, then one token at a time through the cache.
        using var cache = new KvCache();
        var pieces = new List<Tensor>
        {
            model.Decode(model.EmbedDecoderTokens(ids.narrow(1, 0, 4)), null, null, null, null, cache, ForwardOptions.None).Logits,
        };
        for (int t = 4; t < 7; t++)
        {
            pieces.Add(model.Decode(model.EmbedDecoderTokens(ids.narrow(1, t, 1)), null, null, null, null, cache, ForwardOptions.None).Logits);
        }

        double cachedDiff = (torch.cat(pieces, 1) - full).abs().max().item<float>();
        Assert.True(cachedDiff < 1e-5, $"{modelName}: cached decoding differs from the full forward by {cachedDiff:E2}");

        // A batch with a shorter row padded on the right: the real positions of each row are unchanged.
        Tensor batch = torch.tensor(new long[,] { { 5, 17, 42, 99, 7, 300, 12 }, { 5, 17, 42, 0, 0, 0, 0 } });
        Tensor mask = torch.tensor(new long[,] { { 1, 1, 1, 1, 1, 1, 1 }, { 1, 1, 1, 0, 0, 0, 0 } });
        Tensor padded = model.Decode(model.EmbedDecoderTokens(batch), mask, null, null, null, null, ForwardOptions.None).Logits;
        double paddedDiff = Math.Max(
            (padded[0] - full[0]).abs().max().item<float>(),
            (padded[1].narrow(0, 0, 3) - full[0].narrow(0, 0, 3)).abs().max().item<float>());
        Assert.True(paddedDiff < 1e-5, $"{modelName}: right padding changes the logits by {paddedDiff:E2}");
        output.WriteLine($"{modelName}: cache {cachedDiff:E2}, right padding {paddedDiff:E2}");
    }

    [Fact]
    public void Opt_positions_follow_the_attention_mask_so_left_padding_changes_nothing()
    {
        // OPT counts positions from the mask (transformers' OPTLearnedPositionalEmbedding), unlike the rotary models.
        TransformerLanguageModel model = Fixtures.Model("opt");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        Tensor alone = model.Decode(model.EmbedDecoderTokens(torch.tensor(new long[] { 2, 43, 699, 82 }).unsqueeze(0)), null, null, null, null, null, ForwardOptions.None).Logits;
        Tensor batch = torch.tensor(new long[,] { { 1, 1, 2, 43, 699, 82 } });
        Tensor mask = torch.tensor(new long[,] { { 0, 0, 1, 1, 1, 1 } });
        Tensor padded = model.Decode(model.EmbedDecoderTokens(batch), mask, null, null, null, null, ForwardOptions.None).Logits;
        double diff = (padded[0].narrow(0, 2, 4) - alone[0]).abs().max().item<float>();
        Assert.True(diff < 1e-5, $"left padding changes OPT's logits by {diff:E2}");
    }

    [Theory]
    [MemberData(nameof(ArchitectureNames))]
    public void Value_hook_sees_every_layer_and_an_identity_hook_changes_nothing(string modelName)
    {
        TransformerLanguageModel model = Fixtures.Model(modelName);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        Tensor ids = torch.tensor(new long[] { 5, 17, 42, 99 }).unsqueeze(0);
        Tensor plain = model.Decode(model.EmbedDecoderTokens(ids), null, null, null, null, null, ForwardOptions.None).Logits;
        var layers = new List<int>();
        var hooked = model.Decode(model.EmbedDecoderTokens(ids), null, null, null, null, null, new ForwardOptions
        {
            OutputAttentions = true,
            OutputHiddenStates = true,
            ValueHook = (site, layer, values) =>
            {
                Assert.Equal(AttentionSite.DecoderSelf, site);
                Assert.Equal(4, values.shape[2]);
                layers.Add(layer);
                return values;
            },
        });
        Assert.Equal(Enumerable.Range(0, model.DecoderLayers), layers);
        Assert.Equal(model.DecoderLayers, hooked.Attentions!.Count);
        Assert.Equal(model.DecoderLayers + 1, hooked.HiddenStates!.Count);
        Assert.True((hooked.Logits - plain).abs().max().item<float>() == 0, $"{modelName}: an identity value hook changed the logits");
        Tensor rowSums = hooked.Attentions[0].sum(-1);
        Assert.True(rowSums.allclose(torch.ones_like(rowSums), rtol: 0, atol: 1e-5), "attention rows must sum to 1");
    }

    [Theory]
    [InlineData("gpt_neox", "rope_scaling", "{\"type\": \"linear\", \"factor\": 2.0}")]
    [InlineData("phi", "rope_scaling", "{\"type\": \"dynamic\", \"factor\": 2.0}")]
    [InlineData("gemma", "rope_scaling", "{\"type\": \"linear\", \"factor\": 2.0}")]
    public void Unsupported_config_options_are_refused_by_name(string modelName, string key, string value)
    {
        using var folder = new TemporaryModelCopy(modelName);
        folder.EditConfig(key, value);
        var error = Assert.Throws<UnsupportedModelException>(() => ModelConfig.Load(folder.Path));
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
        Assert.Contains("config.json", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("gpt_neox", "gpt_neox.layers.1.mlp.dense_4h_to_h.weight")]
    [InlineData("opt", "model.decoder.layers.1.fc2.weight")]
    [InlineData("gemma", "model.layers.1.mlp.down_proj.weight")]
    [InlineData("phi", "model.layers.1.self_attn.dense.weight")]
    public void A_missing_weight_is_named_at_load_time(string modelName, string key)
    {
        string dir = Fixtures.ModelDir(modelName);
        ModelConfig config = ModelConfig.Load(dir);
        Dictionary<string, Tensor> weights = SafetensorsCheckpoint.Load(dir);
        weights.Remove(key, out Tensor? removed);
        removed!.Dispose();
        var error = Assert.Throws<CheckpointException>(() => TransformerLanguageModel.FromWeights(config, weights));
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    /// <summary>A copy of a fixture model folder whose config.json a test may edit.</summary>
    private sealed class TemporaryModelCopy : IDisposable
    {
        public TemporaryModelCopy(string modelName)
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"inseqbridge-arch-{Guid.NewGuid():N}");
            Directory.CreateDirectory(Path);
            foreach (string file in Directory.GetFiles(Fixtures.ModelDir(modelName)))
            {
                File.Copy(file, System.IO.Path.Combine(Path, System.IO.Path.GetFileName(file)));
            }
        }

        public string Path { get; }

        public void EditConfig(string key, string jsonValue)
        {
            string file = System.IO.Path.Combine(Path, "config.json");
            var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(file))!.AsObject();
            node[key] = System.Text.Json.Nodes.JsonNode.Parse(jsonValue);
            File.WriteAllText(file, node.ToJsonString());
        }

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
