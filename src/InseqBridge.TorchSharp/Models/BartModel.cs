using InseqBridge.Native.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;
using static InseqBridge.Native.Models.TransformerOps;

namespace InseqBridge.Native.Models;

/// <summary>
/// BART (<c>BartForConditionalGeneration</c>) and Marian (<c>MarianMTModel</c>): post-LayerNorm encoder-decoders
/// sharing one embedding matrix (<c>model.shared</c>) with the output projection plus <c>final_logits_bias</c>.
/// BART: learned positions offset by 2 and an embedding LayerNorm. Marian: sinusoidal static positions, no
/// embedding LayerNorm, embeddings scaled by sqrt(d_model).
/// </summary>
public sealed class BartModel : TransformerLanguageModel
{
    private readonly BartConfig _config;
    private readonly Tensor? _sinusoidalPositions;

    internal BartModel(BartConfig config, Dictionary<string, Tensor> weights) : base(config, weights)
    {
        _config = config;
        _ = W("model.shared.weight");
        if (config.IsMarian)
        {
            _sinusoidalPositions = SinusoidalTable(config.MaxPositions ?? 512, config.HiddenSize).DetachFromDisposeScope();
        }
    }

    /// <summary>The weights this architecture reads for <paramref name="c"/> (Marian's positions are computed, not read).</summary>
    internal static IReadOnlyList<WeightSpec> Weights(BartConfig c)
    {
        long d = c.HiddenSize;
        var list = new List<WeightSpec> { WeightSpec.Of("model.shared.weight", c.VocabSize, d) };
        void Stack(string prefix, int layers, long ffn, bool decoder)
        {
            if (!c.IsMarian)
            {
                list.Add(WeightSpec.Of(prefix + "embed_positions.weight", (c.MaxPositions ?? 1024) + 2, d));
            }

            list.Add(new WeightSpec(prefix + "layernorm_embedding.weight", [d], Optional: true));
            list.Add(new WeightSpec(prefix + "layernorm_embedding.bias", [d], Optional: true));
            for (int i = 0; i < layers; i++)
            {
                string p = $"{prefix}layers.{i}.";
                foreach (string attention in decoder ? new[] { "self_attn", "encoder_attn" } : ["self_attn"])
                {
                    foreach (string projection in new[] { "q_proj", "k_proj", "v_proj", "out_proj" })
                    {
                        list.Add(WeightSpec.Of($"{p}{attention}.{projection}.weight", d, d));
                        list.Add(WeightSpec.Of($"{p}{attention}.{projection}.bias", d));
                    }

                    list.Add(WeightSpec.Of($"{p}{attention}_layer_norm.weight", d));
                    list.Add(WeightSpec.Of($"{p}{attention}_layer_norm.bias", d));
                }

                list.AddRange(
                [
                    WeightSpec.Of(p + "fc1.weight", ffn, d), WeightSpec.Of(p + "fc1.bias", ffn),
                    WeightSpec.Of(p + "fc2.weight", d, ffn), WeightSpec.Of(p + "fc2.bias", d),
                    WeightSpec.Of(p + "final_layer_norm.weight", d), WeightSpec.Of(p + "final_layer_norm.bias", d),
                ]);
            }
        }

        Stack("model.encoder.", c.EncoderLayers, c.EncoderFfnSize, decoder: false);
        Stack("model.decoder.", c.DecoderLayers, c.DecoderFfnSize, decoder: true);
        list.Add(new WeightSpec("final_logits_bias", [1, c.VocabSize], Optional: true));
        return list;
    }

    /// <inheritdoc />
    public override int DecoderLayers => _config.DecoderLayers;

    /// <inheritdoc />
    public override int EncoderLayers => _config.EncoderLayers;

    /// <inheritdoc />
    public override double EmbedScale => _config.ScaleEmbedding ? Math.Sqrt(_config.HiddenSize) : 1.0;

    /// <inheritdoc />
    public override Tensor EmbeddingMatrix => W("model.shared.weight");

    /// <inheritdoc />
    public override EncoderOutput Encode(Tensor inputsEmbeds, Tensor? attentionMask, ForwardOptions options)
    {
        long batch = inputsEmbeds.shape[0], length = inputsEmbeds.shape[1];
        CheckPositions(length, "source text");
        var attentions = options.OutputAttentions ? new List<Tensor>() : null;
        var hiddenStates = options.OutputHiddenStates ? new List<Tensor>() : null;

        using var scope = torch.NewDisposeScope();
        Tensor h = Dropout(Embed(inputsEmbeds, "model.encoder.", 0), _config.Dropout, options);
        Tensor mask = AdditiveMask(attentionMask, batch, length, length, causal: false, inputsEmbeds.device);
        for (int i = 0; i < _config.EncoderLayers; i++)
        {
            hiddenStates?.Add(h);
            if (DropLayer(_config.EncoderLayerDrop, options))
            {
                // LayerDrop skipped the layer: it attends nowhere (transformers reports None).
                attentions?.Add(torch.zeros(batch, _config.EncoderHeads, length, length, device: inputsEmbeds.device));
                continue;
            }

            string p = $"model.encoder.layers.{i}.";
            var (attn, probabilities) = Attention(h, h, mask, p + "self_attn.", _config.EncoderHeads, AttentionSite.EncoderSelf, i, null, options);
            attentions?.Add(probabilities);
            h = LayerNorm(h.Plus(Dropout(attn, _config.Dropout, options)), W(p + "self_attn_layer_norm.weight"), W(p + "self_attn_layer_norm.bias"), 1e-5);
            h = FeedForward(h, p, options);
        }

        hiddenStates?.Add(h);
        return new EncoderOutput(
            h.MoveToOuterDisposeScope(),
            attentions?.Select(a => a.MoveToOuterDisposeScope()).ToList(),
            hiddenStates?.Select(a => a.MoveToOuterDisposeScope()).ToList());
    }

    /// <inheritdoc />
    public override DecoderOutput Decode(
        Tensor inputsEmbeds,
        Tensor? attentionMask,
        Tensor? positionIds,
        EncoderOutput? encoder,
        Tensor? encoderAttentionMask,
        KvCache? cache,
        ForwardOptions options)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        long batch = inputsEmbeds.shape[0], length = inputsEmbeds.shape[1];
        long source = encoder.LastHiddenState.shape[1];
        int past = cache?.Length ?? 0;
        CheckPositions(past + length, "target text");
        var attentions = options.OutputAttentions ? new List<Tensor>() : null;
        var crossAttentions = options.OutputAttentions ? new List<Tensor>() : null;
        var hiddenStates = options.OutputHiddenStates ? new List<Tensor>() : null;

        using var scope = torch.NewDisposeScope();
        Tensor h = Dropout(Embed(inputsEmbeds, "model.decoder.", past), _config.Dropout, options);
        Tensor selfMask = AdditiveMask(attentionMask, batch, length, past + length, causal: true, inputsEmbeds.device);
        Tensor crossMask = AdditiveMask(encoderAttentionMask, batch, length, source, causal: false, inputsEmbeds.device);
        for (int i = 0; i < _config.DecoderLayers; i++)
        {
            hiddenStates?.Add(h);
            if (DropLayer(_config.DecoderLayerDrop, options))
            {
                attentions?.Add(torch.zeros(batch, _config.DecoderHeads, length, past + length, device: inputsEmbeds.device));
                crossAttentions?.Add(torch.zeros(batch, _config.DecoderHeads, length, source, device: inputsEmbeds.device));
                continue;
            }

            string p = $"model.decoder.layers.{i}.";
            var (attn, probabilities) = Attention(h, h, selfMask, p + "self_attn.", _config.DecoderHeads, AttentionSite.DecoderSelf, i, cache, options);
            attentions?.Add(probabilities);
            h = LayerNorm(h.Plus(Dropout(attn, _config.Dropout, options)), W(p + "self_attn_layer_norm.weight"), W(p + "self_attn_layer_norm.bias"), 1e-5);

            var (cross, crossProbabilities) = Attention(h, encoder.LastHiddenState, crossMask, p + "encoder_attn.", _config.DecoderHeads, AttentionSite.Cross, i, cache, options);
            crossAttentions?.Add(crossProbabilities);
            h = LayerNorm(h.Plus(Dropout(cross, _config.Dropout, options)), W(p + "encoder_attn_layer_norm.weight"), W(p + "encoder_attn_layer_norm.bias"), 1e-5);
            h = FeedForward(h, p, options);
        }

        hiddenStates?.Add(h);
        if (cache is not null)
        {
            cache.Length = past + (int)length;
        }

        Tensor logits = ApplyHead(h, options);

        return new DecoderOutput(
            logits.MoveToOuterDisposeScope(),
            attentions?.Select(a => a.MoveToOuterDisposeScope()).ToList(),
            crossAttentions?.Select(a => a.MoveToOuterDisposeScope()).ToList(),
            hiddenStates?.Select(a => a.MoveToOuterDisposeScope()).ToList());
    }

    /// <inheritdoc />
    public override Tensor LanguageModelHead(Tensor hidden)
    {
        Tensor logits = nn.functional.linear(hidden, EmbeddingMatrix);
        return OptionalW("final_logits_bias") is Tensor bias ? logits.Plus(bias) : logits;
    }

    private Tensor Embed(Tensor inputsEmbeds, string prefix, int past)
    {
        long length = inputsEmbeds.shape[1];
        Tensor positions;
        if (_sinusoidalPositions is not null)
        {
            positions = _sinusoidalPositions.narrow(0, past, length).to(inputsEmbeds.device);
        }
        else
        {
            // BartLearnedPositionalEmbedding: ids past..past+len-1, offset by 2.
            Tensor ids = SafeScalars.Arange(past + 2, past + 2 + length, inputsEmbeds.device);
            positions = Embedding(ids, W(prefix + "embed_positions.weight"));
        }

        Tensor h = inputsEmbeds.Plus(positions);
        Tensor? lnWeight = OptionalW(prefix + "layernorm_embedding.weight");
        if (lnWeight is not null)
        {
            h = LayerNorm(h, lnWeight, W(prefix + "layernorm_embedding.bias"), 1e-5);
        }

        return h;
    }

    private (Tensor Output, Tensor Probabilities) Attention(
        Tensor hidden, Tensor keyValueSource, Tensor mask, string p, int heads, AttentionSite site, int layer, KvCache? cache, ForwardOptions options) =>
        ProjectedAttention(hidden, keyValueSource, mask, p, _config.HiddenSize, heads, _config.AttentionDropout, site, layer, cache, options);

    private Tensor FeedForward(Tensor h, string p, ForwardOptions options)
    {
        Tensor y = Activation(_config.Activation, Linear(h, W(p + "fc1.weight"), W(p + "fc1.bias")), options);
        y = Dropout(y, _config.ActivationDropout, options);
        y = Dropout(Linear(y, W(p + "fc2.weight"), W(p + "fc2.bias")), _config.Dropout, options);
        return LayerNorm(h.Plus(y), W(p + "final_layer_norm.weight"), W(p + "final_layer_norm.bias"), 1e-5);
    }

    /// <summary>Marian's static table: sin of even-indexed angles in the first half, cos of odd ones in the second,
    /// computed in double precision then rounded to float32.</summary>
    private static Tensor SinusoidalTable(int positions, int dim)
    {
        var table = new float[positions * dim];
        int sentinel = dim % 2 == 0 ? dim / 2 : (dim / 2) + 1;
        for (int pos = 0; pos < positions; pos++)
        {
            for (int j = 0; j < dim; j++)
            {
                double angle = pos / Math.Pow(10000, 2.0 * (j / 2) / dim);
                if (j % 2 == 0)
                {
                    table[(pos * dim) + (j / 2)] = (float)Math.Sin(angle);
                }
                else
                {
                    table[(pos * dim) + sentinel + (j / 2)] = (float)Math.Cos(angle);
                }
            }
        }

        return torch.tensor(table, [positions, dim], ScalarType.Float32);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _sinusoidalPositions?.Dispose();
        }

        base.Dispose(disposing);
    }
}
