using System.Globalization;
using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Tokenizers;
using InseqBridge.Native.Attribution;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Models;

namespace InseqBridge.Native.Tests.Attribution;

/// <summary>
/// Attribution methods run on the real-checkpoint fixtures (bf16 sharded Mistral with a sliding window), driven by
/// token ids: the fixtures hold no tokenizer.json, so a tokenizer that reads "1 415 2936" as [1, 415, 2936] feeds the
/// real pipeline.
/// </summary>
public class RealCheckpointAttributionTests
{
    private const string Name = "mistral_swa_sharded";
    private const int Window = 4;

    // A prompt of 7 ids and 4 forced ids (the reference greedy continuation of generation.json's first input is not
    // needed: any ids work for forced attribution).
    private const string Prompt = "1 415 2936 9060 285 1142 754";
    private const string Forced = Prompt + " 264 1215 302 272";

    [Fact]
    public void Attention_on_a_sliding_window_model_is_masked_outside_the_window()
    {
        // Inseq records self-attention weights that are exactly zero (masked keys) as NaN.
        using NativeAttributionModel model = Load();
        FeatureAttributionOutput output = model.Attribute(new AttributionRequest([Prompt]) { GeneratedTexts = [Forced], Method = new AttentionWeights() });
        NdArray attention = output.SequenceAttributions[0].TargetAttributions!;
        int prompt = Prompt.Split(' ').Length, steps = attention.Shape[1], layers = attention.Shape[2], heads = attention.Shape[3];
        Assert.Equal(4, steps);

        for (int step = 0; step < steps; step++)
        {
            int query = prompt + step - 1;
            for (int row = 0; row <= query; row++)
            {
                double total = 0;
                for (int l = 0; l < layers; l++)
                {
                    for (int h = 0; h < heads; h++)
                    {
                        total += attention[row, step, l, h];
                    }
                }

                if (row <= query - Window)
                {
                    Assert.True(double.IsNaN(total), $"step {step}: key {row} outside the window has attention {total}");
                }
                else
                {
                    Assert.True(total > 0, $"step {step}: key {row} inside the window has no attention ({total})");
                }
            }
        }
    }

    [Fact]
    public void Saliency_runs_in_float32_and_bfloat16_and_agrees()
    {
        using NativeAttributionModel fp32 = Load();
        using NativeAttributionModel bf16 = Load(ModelDType.BFloat16);
        var request = new AttributionRequest([Prompt]) { GeneratedTexts = [Forced], Method = new Saliency(), StepScores = [new Probability()] };
        FeatureAttributionSequenceOutput a = fp32.Attribute(request).SequenceAttributions[0];
        FeatureAttributionSequenceOutput b = bf16.Attribute(request).SequenceAttributions[0];
        Assert.Equal(a.TargetAttributions!.Shape, b.TargetAttributions!.Shape);
        float[] x = a.TargetAttributions.ToArray(), y = b.TargetAttributions.ToArray();
        double scale = x.Where(v => !float.IsNaN(v)).Max(v => Math.Abs(v));
        Assert.True(scale > 0);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.Equal(float.IsNaN(x[i]), float.IsNaN(y[i]));
            if (!float.IsNaN(x[i]))
            {
                // bf16 keeps 8 significant bits: gradients move by a few percent of the largest one.
                Assert.True(Math.Abs(x[i] - y[i]) <= 0.1 * scale, $"element {i}: {x[i]} vs {y[i]} (scale {scale})");
            }
        }

        float[] p = a.StepScores["probability"].ToArray(), q = b.StepScores["probability"].ToArray();
        for (int i = 0; i < p.Length; i++)
        {
            Assert.Equal(p[i], q[i], 0.01 * p[i] + 1e-9);
        }
    }

    private static NativeAttributionModel Load(ModelDType dtype = ModelDType.Float32)
    {
        string dir = Fixtures.RealModelDir(Name);
        ModelConfig config = ModelConfig.Load(dir);
        TransformerLanguageModel network = TransformerLanguageModel.Load(dir, config, dtype);
        return NativeAttributionModel.Create($"models/{Name}", network, new IdsTokenizer(config), GenerationConfig.Load(dir, config));
    }

    /// <summary>Reads and writes texts of space-separated token ids; every id is its own token string.</summary>
    private sealed class IdsTokenizer(ModelConfig config) : IHfTokenizer
    {
        public string TokenizerClass => "IdsTokenizer";

        public int Count => config.VocabSize;

        public SpecialTokens Special { get; } = new(
            config.BosTokenId is int bos ? new TokenAndId(bos.ToString(CultureInfo.InvariantCulture), bos) : null,
            config.EosTokenIds.Count > 0 ? new TokenAndId(config.EosTokenIds[0].ToString(CultureInfo.InvariantCulture), config.EosTokenIds[0]) : null,
            null,
            null,
            []);

        public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true, bool asTarget = false) =>
            text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray();

        public IReadOnlyList<string> Tokenize(string text, bool asTarget = false) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries);

        public IReadOnlyList<string> ConvertIdsToTokens(IEnumerable<int> ids) => ids.Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();

        public string? IdToToken(int id) => id >= 0 && id < Count ? id.ToString(CultureInfo.InvariantCulture) : null;

        public int? TokenToId(string token) => int.TryParse(token, CultureInfo.InvariantCulture, out int id) ? id : null;

        public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false, bool? cleanUpTokenizationSpaces = null) =>
            string.Join(' ', ids.Select(i => i.ToString(CultureInfo.InvariantCulture)));

        public bool IsSpecial(int id) => false;
    }
}
