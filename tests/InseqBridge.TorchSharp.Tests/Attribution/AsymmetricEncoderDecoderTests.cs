using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Tests.Attribution;

/// <summary>
/// Encoder-decoders whose encoder and decoder differ in depth and head count (as distilled BART / Marian / NLLB
/// checkpoints do): tests/fixtures/reference-asymmetric (bart_asym: encoder 3 layers x 4 heads, decoder 1 x 2;
/// marian_asym: encoder 1 x 2, decoder 3 x 4; m2m100_asym: encoder 1 x 2, decoder 2 x 4). Each attention output has its own part's shape, and the encoder
/// self-attention equals the encoder's own attention probabilities. Python Inseq's outputs on the same models are
/// checked by AttributionParityTests (set reference-asymmetric).
/// </summary>
public class AsymmetricEncoderDecoderTests
{
    private static readonly string[] Sources = ["Hello world", "The cursor moves to the line."];
    private static readonly string[] Targets = ["Bonjour le monde", "Le curseur se d\u00e9place sur la ligne."];

    [Theory]
    [InlineData("bart_asym")]
    [InlineData("marian_asym")]
    [InlineData("m2m100_asym")]
    public void Attention_outputs_have_the_shape_of_their_part(string name)
    {
        var config = Depths.Of(name);
        Assert.NotEqual(config.EncoderLayers, config.DecoderLayers);
        Assert.NotEqual(config.EncoderHeads, config.DecoderHeads);
        FeatureAttributionOutput output = AttributionParityTests.Model(name).Attribute(new AttributionRequest(Sources)
        {
            GeneratedTexts = Targets,
            Method = AttributionMethod.FromId("attention"),
        });

        foreach (FeatureAttributionSequenceOutput sequence in output.SequenceAttributions)
        {
            int s = sequence.Source.Count, n = sequence.AttrPosEnd - sequence.AttrPosStart;
            Assert.Equal([s, n, config.DecoderLayers, config.DecoderHeads], sequence.SourceAttributions!.Shape);
            Assert.Equal([s, s, config.EncoderLayers, config.EncoderHeads], sequence.SequenceScores["encoder_self_attentions"].Shape);
            NdArray decoderSelf = sequence.SequenceScores["decoder_self_attentions"];
            Assert.Equal([config.DecoderLayers, config.DecoderHeads], decoderSelf.Shape.Skip(3));
            AssertEncoderAttentions(name, sequence);
        }
    }

    [Theory]
    [InlineData("bart_asym")]
    [InlineData("marian_asym")]
    [InlineData("m2m100_asym")]
    public void Value_zeroing_encoder_scores_have_the_encoder_depth(string name)
    {
        var config = Depths.Of(name);
        FeatureAttributionOutput output = AttributionParityTests.Model(name).Attribute(new AttributionRequest(Sources)
        {
            GeneratedTexts = Targets,
            Method = AttributionMethod.FromId("value_zeroing", new Dictionary<string, string> { ["output_encoder_self_scores"] = "true" }),
        });

        foreach (FeatureAttributionSequenceOutput sequence in output.SequenceAttributions)
        {
            int s = sequence.Source.Count, n = sequence.AttrPosEnd - sequence.AttrPosStart;
            Assert.Equal([s, n, config.DecoderLayers], sequence.SourceAttributions!.Shape);
            Assert.Equal([s, s, config.EncoderLayers], sequence.SequenceScores["encoder_self_scores"].Shape);
            Assert.All(sequence.SequenceScores["encoder_self_scores"].ToArray(), v => Assert.True(float.IsNaN(v) || float.IsFinite(v)));
        }
    }

    /// <summary>Layer and head counts of each part, as config.json gives them.</summary>
    private sealed record Depths(int EncoderLayers, int EncoderHeads, int DecoderLayers, int DecoderHeads)
    {
        public static Depths Of(string name)
        {
            var raw = ModelConfig.Load(Fixtures.ModelDir(name)).Raw;
            int Get(string key) => raw.GetProperty(key).GetInt32();
            return new Depths(Get("encoder_layers"), Get("encoder_attention_heads"), Get("decoder_layers"), Get("decoder_attention_heads"));
        }
    }

    /// <summary>encoder_self_attentions[key, query, layer, head] = the encoder's attention of the unpadded source alone.</summary>
    private static void AssertEncoderAttentions(string name, FeatureAttributionSequenceOutput sequence)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        TransformerLanguageModel model = AttributionParityTests.Model(name).Model;
        Tensor ids = torch.tensor(sequence.Source.Select(t => (long)t.Id).ToArray()).unsqueeze(0);
        EncoderOutput encoded = model.Encode(model.EmbedEncoderTokens(ids), null, new ForwardOptions { OutputAttentions = true });
        NdArray actual = sequence.SequenceScores["encoder_self_attentions"];
        int s = sequence.Source.Count;
        for (int layer = 0; layer < encoded.Attentions!.Count; layer++)
        {
            float[] expected = encoded.Attentions[layer][0].contiguous().data<float>().ToArray(); // [heads, query, key]
            int heads = (int)encoded.Attentions[layer].shape[1];
            for (int h = 0; h < heads; h++)
            {
                for (int q = 0; q < s; q++)
                {
                    for (int k = 0; k < s; k++)
                    {
                        float e = expected[(((h * s) + q) * s) + k];
                        Assert.True(Math.Abs(actual[k, q, layer, h] - e) <= 1e-6, $"{name} layer {layer} head {h} query {q} key {k}: {actual[k, q, layer, h]} vs {e}");
                    }
                }
            }
        }
    }
}
