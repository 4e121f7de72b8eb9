using InseqBridge.Native.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;
using static InseqBridge.Native.Models.TransformerOps;

namespace InseqBridge.Native.Models;

/// <summary>
/// M2M100 and dense NLLB (<c>M2M100ForConditionalGeneration</c>): pre-LayerNorm encoder and decoder layers, a final
/// LayerNorm after each stack, sinusoidal positions whose ids start at <c>pad_token_id + 1</c>, embeddings scaled by
/// sqrt(d_model), and the head tied to <c>model.shared</c> (no bias). The target language is chosen by the first
/// generated token (<c>forced_bos_token_id</c>), after the decoder start token <c>&lt;/s&gt;</c>.
/// </summary>
public sealed class M2M100Model : TransformerLanguageModel
{
    private const double LayerNormEpsilon = 1e-5;
    private readonly M2M100Config _config;
    private readonly string _embeddingKey;

    internal M2M100Model(M2M100Config config, Dictionary<string, Tensor> weights) : base(config, weights)
    {
        _config = config;
        _embeddingKey = EmbeddingKey(weights.Keys);
    }

    /// <summary>
    /// The weights this architecture reads for <paramref name="c"/>, in reading order: the token embedding under the
    /// name <paramref name="stored"/> holds it by (see <see cref="EmbeddingKey"/>), <c>lm_head</c> only when untied,
    /// then both stacks (positions are computed, not read).
    /// </summary>
    internal static IReadOnlyList<WeightSpec> Weights(M2M100Config c, IReadOnlyCollection<string> stored)
    {
        long d = c.HiddenSize;
        var list = new List<WeightSpec> { WeightSpec.Of(EmbeddingKey(stored), c.VocabSize, d) };
        if (!c.TieWordEmbeddings)
        {
            list.Add(WeightSpec.Of("lm_head.weight", c.VocabSize, d));
        }

        void Pair(string name, params long[] shape)
        {
            list.Add(WeightSpec.Of(name + ".weight", shape));
            list.Add(WeightSpec.Of(name + ".bias", shape[0]));
        }

        foreach (var (stack, layers, ffn, decoder) in new[] { ("encoder", c.EncoderLayers, (long)c.EncoderFfnSize, false), ("decoder", c.DecoderLayers, c.DecoderFfnSize, true) })
        {
            for (int i = 0; i < layers; i++)
            {
                string p = $"model.{stack}.layers.{i}.";
                foreach (string attention in decoder ? new[] { "self_attn", "encoder_attn" } : ["self_attn"])
                {
                    Pair($"{p}{attention}_layer_norm", d);
                    foreach (string projection in (string[])["q_proj", "k_proj", "v_proj", "out_proj"])
                    {
                        Pair($"{p}{attention}.{projection}", d, d);
                    }
                }

                Pair(p + "final_layer_norm", d);
                Pair(p + "fc1", ffn, d);
                Pair(p + "fc2", d, ffn);
            }

            Pair($"model.{stack}.layer_norm", d);
        }

        return list;
    }

    /// <summary>The key the token embedding is stored under: save_pretrained keeps <c>model.shared.weight</c> and drops
    /// its tied copies; other exports keep one of the copies.</summary>
    private static string EmbeddingKey(IReadOnlyCollection<string> stored) =>
        new[] { "model.shared.weight", "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight" }
            .FirstOrDefault(stored.Contains) ?? "model.shared.weight";

    /// <inheritdoc />
    public override int DecoderLayers => _config.DecoderLayers;

    /// <inheritdoc />
    public override int EncoderLayers => _config.EncoderLayers;

    /// <inheritdoc />
    public override double EmbedScale => _config.ScaleEmbedding ? Math.Sqrt(_config.HiddenSize) : 1.0;

    /// <inheritdoc />
    public override Tensor EmbeddingMatrix => W(_embeddingKey);

    /// <inheritdoc />
    public override EncoderOutput Encode(Tensor inputsEmbeds, Tensor? attentionMask, ForwardOptions options)
    {
        long batch = inputsEmbeds.shape[0], length = inputsEmbeds.shape[1];
        var attentions = options.OutputAttentions ? new List<Tensor>() : null;
        var hiddenStates = options.OutputHiddenStates ? new List<Tensor>() : null;

        using var scope = torch.NewDisposeScope();
        Tensor h = Dropout(inputsEmbeds.Plus(Positions(0, length, inputsEmbeds)), _config.Dropout, options);
        Tensor mask = AdditiveMask(attentionMask, batch, length, length, causal: false, inputsEmbeds.device);
        for (int i = 0; i < _config.EncoderLayers; i++)
        {
            hiddenStates?.Add(h);
            if (DropLayer(_config.EncoderLayerDrop, options))
            {
                attentions?.Add(torch.zeros(batch, _config.EncoderHeads, length, length, device: inputsEmbeds.device));
                continue;
            }

            string p = $"model.encoder.layers.{i}.";
            Tensor normed = Norm(h, p + "self_attn_layer_norm.");
            var (attn, probabilities) = Attention(normed, normed, mask, p + "self_attn.", _config.EncoderHeads, AttentionSite.EncoderSelf, i, null, options);
            attentions?.Add(probabilities);
            h = h.Plus(Dropout(attn, _config.Dropout, options));
            h = FeedForward(h, p, options);
        }

        h = Norm(h, "model.encoder.layer_norm.");
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
        var attentions = options.OutputAttentions ? new List<Tensor>() : null;
        var crossAttentions = options.OutputAttentions ? new List<Tensor>() : null;
        var hiddenStates = options.OutputHiddenStates ? new List<Tensor>() : null;

        using var scope = torch.NewDisposeScope();
        Tensor h = Dropout(inputsEmbeds.Plus(Positions(past, length, inputsEmbeds)), _config.Dropout, options);
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
            Tensor normed = Norm(h, p + "self_attn_layer_norm.");
            var (attn, probabilities) = Attention(normed, normed, selfMask, p + "self_attn.", _config.DecoderHeads, AttentionSite.DecoderSelf, i, cache, options);
            attentions?.Add(probabilities);
            h = h.Plus(Dropout(attn, _config.Dropout, options));

            Tensor normedCross = Norm(h, p + "encoder_attn_layer_norm.");
            var (cross, crossProbabilities) = Attention(normedCross, encoder.LastHiddenState, crossMask, p + "encoder_attn.", _config.DecoderHeads, AttentionSite.Cross, i, cache, options);
            crossAttentions?.Add(crossProbabilities);
            h = h.Plus(Dropout(cross, _config.Dropout, options));
            h = FeedForward(h, p, options);
        }

        h = Norm(h, "model.decoder.layer_norm.");
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
        Tensor head = !_config.TieWordEmbeddings && OptionalW("lm_head.weight") is Tensor untied ? untied : EmbeddingMatrix;
        return nn.functional.linear(hidden, head);
    }

    private Tensor Norm(Tensor h, string prefix) => LayerNorm(h, W(prefix + "weight"), W(prefix + "bias"), LayerNormEpsilon);

    /// <summary>
    /// M2M100SinusoidalPositionalEmbedding rows for positions past..past+length-1, i.e. table rows padding_idx + 1 +
    /// position: [sin | cos] of position × exp(-k·ln(10000) / (half - 1)), computed in float32 as transformers does
    /// (inputs given as embeddings get sequential positions, which is also what ids without padding get).
    /// </summary>
    private Tensor Positions(int past, long length, Tensor like)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        int dim = _config.HiddenSize, half = dim / 2;
        using Scalar step = (-Math.Log(10000) / (half - 1)).ToScalar();
        Tensor frequencies = torch.exp(SafeScalars.Arange(0, half).to(ScalarType.Float32) * step);
        long first = _config.PaddingIndex + 1 + past;
        Tensor ids = SafeScalars.Arange(first, first + length).to(ScalarType.Float32);
        Tensor angles = ids.unsqueeze(1) * frequencies.unsqueeze(0);
        Tensor table = torch.cat([torch.sin(angles), torch.cos(angles)], 1);
        if (dim % 2 == 1)
        {
            table = torch.cat([table, torch.zeros(length, 1)], 1);
        }

        return table.to(like.dtype).to(like.device).unsqueeze(0).MoveToOuterDisposeScope();
    }

    private (Tensor Output, Tensor Probabilities) Attention(
        Tensor hidden, Tensor keyValueSource, Tensor mask, string p, int heads, AttentionSite site, int layer, KvCache? cache, ForwardOptions options) =>
        ProjectedAttention(hidden, keyValueSource, mask, p, _config.HiddenSize, heads, _config.AttentionDropout, site, layer, cache, options);

    /// <summary>Pre-norm feed-forward with its residual: h + fc2(act(fc1(LayerNorm(h)))).</summary>
    private Tensor FeedForward(Tensor h, string p, ForwardOptions options)
    {
        Tensor normed = Norm(h, p + "final_layer_norm.");
        Tensor y = Activation(_config.Activation, Linear(normed, W(p + "fc1.weight"), W(p + "fc1.bias")), options);
        y = Dropout(y, _config.ActivationDropout, options);
        y = Dropout(Linear(y, W(p + "fc2.weight"), W(p + "fc2.bias")), _config.Dropout, options);
        return h.Plus(y);
    }
}
