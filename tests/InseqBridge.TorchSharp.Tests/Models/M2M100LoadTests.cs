using InseqBridge.Errors;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Tests.Models;

/// <summary>Loading M2M100 checkpoints: missing weights are named at load time, and the embedding may be stored under
/// any of its tied names.</summary>
public class M2M100LoadTests
{
    private static string Dir => Fixtures.ModelDir("m2m100");

    [Fact]
    public void A_missing_weight_is_named_at_load()
    {
        Dictionary<string, Tensor> weights = SafetensorsCheckpoint.Load(Dir);
        weights.Remove("model.decoder.layers.1.fc2.bias", out Tensor? removed);
        removed!.Dispose();
        var e = Assert.Throws<CheckpointException>(() => TransformerLanguageModel.FromWeights(ModelConfig.Load(Dir), weights));
        Assert.Contains("model.decoder.layers.1.fc2.bias", e.Message);
    }

    [Fact]
    public void The_embedding_may_be_stored_as_the_encoder_copy()
    {
        Dictionary<string, Tensor> weights = SafetensorsCheckpoint.Load(Dir);
        weights.Remove("model.shared.weight", out Tensor? shared);
        weights["model.encoder.embed_tokens.weight"] = shared!;
        using TransformerLanguageModel renamed = TransformerLanguageModel.FromWeights(ModelConfig.Load(Dir), weights);
        TransformerLanguageModel original = Fixtures.Model("m2m100");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        Tensor ids = torch.tensor(new long[] { 821, 697, 762, 2 }).unsqueeze(0);
        Tensor decoderIds = torch.tensor(new long[] { 2, 827 }).unsqueeze(0);
        Tensor Logits(TransformerLanguageModel m) =>
            m.Decode(m.EmbedDecoderTokens(decoderIds), null, null, m.Encode(m.EmbedEncoderTokens(ids), null, ForwardOptions.None), null, null, ForwardOptions.None).Logits;
        Assert.True(Logits(original).equal(Logits(renamed)).all().item<bool>());
    }
}
