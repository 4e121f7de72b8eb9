using InseqBridge.Native.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;
using static InseqBridge.Native.Models.TransformerOps;

namespace InseqBridge.Native.Models;

/// <summary>
/// OPT (<c>OPTForCausalLM</c>): learned positions counted from the attention mask (cumsum(mask) · mask - 1, so left
/// padding does not shift them) and offset by 2 in the position table; embeddings of <c>word_embed_proj_dim</c>
/// mapped to the hidden size by <c>project_in</c> (and back by <c>project_out</c> before the head) when the two
/// differ; pre-LayerNorm blocks (<c>do_layer_norm_before</c>) or post-LayerNorm ones (OPT-350m); queries scaled before
/// the dot product as in BART; lm_head tied to the token embeddings.
/// </summary>
public sealed class OptModel : TransformerLanguageModel
{
    private const string Prefix = "model.decoder.";

    /// <summary>OPTLearnedPositionalEmbedding's offset: position p reads row p + 2 of the table.</summary>
    private const int PositionOffset = 2;

    private readonly OptConfig _config;
    private readonly int _headDim;
    private readonly Tensor _scale;

    internal OptModel(OptConfig config, Dictionary<string, Tensor> weights) : base(config, weights)
    {
        _config = config;
        _headDim = config.HiddenSize / config.Heads;

        // scaling = head_dim ** -0.5, multiplied into the query projection.
        _scale = torch.tensor(Math.Pow(_headDim, -0.5), ScalarType.Float32);
    }

    /// <summary>
    /// The weights this architecture reads for <paramref name="c"/>, in reading order: the position table with its 2
    /// offset rows, <c>project_in</c>/<c>project_out</c> when <c>word_embed_proj_dim</c> differs from the hidden size
    /// (optional otherwise), LayerNorm weights unless <c>layer_norm_elementwise_affine</c> is false (biases and the
    /// other projections' biases optional), the final LayerNorm only with <c>do_layer_norm_before</c> (and not
    /// <c>_remove_final_layer_norm</c>), <c>lm_head</c> only when untied.
    /// </summary>
    internal static IReadOnlyList<WeightSpec> Weights(OptConfig c)
    {
        long d = c.HiddenSize, proj = c.WordEmbedProjDim, ffn = c.FfnSize;
        bool projected = proj != d;
        bool affine = !c.Raw.TryGetProperty("layer_norm_elementwise_affine", out var a) || a.ValueKind != System.Text.Json.JsonValueKind.False;
        var list = new List<WeightSpec>
        {
            WeightSpec.Of(Prefix + "embed_tokens.weight", c.VocabSize, proj),
            WeightSpec.Of(Prefix + "embed_positions.weight", (c.MaxPositions ?? 2048) + PositionOffset, d),
            new(Prefix + "project_in.weight", [d, proj], Optional: !projected),
        };
        void Norm(string name)
        {
            list.Add(new WeightSpec(name + ".weight", [d], Optional: !affine));
            list.Add(new WeightSpec(name + ".bias", [d], Optional: true));
        }

        void Projection(string name, long output, long input)
        {
            list.Add(WeightSpec.Of(name + ".weight", output, input));
            list.Add(new WeightSpec(name + ".bias", [output], Optional: true));
        }

        for (int i = 0; i < c.Layers; i++)
        {
            string p = $"{Prefix}layers.{i}.";
            Norm(p + "self_attn_layer_norm");
            foreach (string projection in (string[])["q_proj", "k_proj", "v_proj", "out_proj"])
            {
                Projection(p + "self_attn." + projection, d, d);
            }

            Norm(p + "final_layer_norm");
            Projection(p + "fc1", ffn, d);
            Projection(p + "fc2", d, ffn);
        }

        if (c.FinalLayerNorm)
        {
            Norm(Prefix + "final_layer_norm");
        }

        list.Add(new WeightSpec(Prefix + "project_out.weight", [proj, d], Optional: !projected));
        if (!c.TieWordEmbeddings)
        {
            list.Add(WeightSpec.Of("lm_head.weight", c.VocabSize, proj));
        }

        return list;
    }

    /// <inheritdoc />
    public override int DecoderLayers => _config.Layers;

    /// <inheritdoc />
    public override Tensor EmbeddingMatrix => W(Prefix + "embed_tokens.weight");

    /// <inheritdoc />
    public override Tensor LanguageModelHead(Tensor hidden) =>
        nn.functional.linear(hidden, _config.TieWordEmbeddings ? EmbeddingMatrix : W("lm_head.weight"));

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
        long batch = inputsEmbeds.shape[0], length = inputsEmbeds.shape[1];
        int past = cache?.Length ?? 0;
        CheckPositions(past + length, "sequence");
        var attentions = options.OutputAttentions ? new List<Tensor>() : null;
        var hiddenStates = options.OutputHiddenStates ? new List<Tensor>() : null;
        int heads = _config.Heads, headDim = _headDim;

        using var scope = torch.NewDisposeScope();
        Device device = inputsEmbeds.device;
        Tensor positions = positionIds ?? MaskPositions(attentionMask, batch, past, length, device);
        using Scalar offset = PositionOffset.ToScalar();
        Tensor positionEmbeds = Embedding(positions.add(offset, SafeScalars.One), W(Prefix + "embed_positions.weight"));
        Tensor mask = AdditiveMask(attentionMask, batch, length, past + length, causal: true, device);
        Tensor scale = _scale.to(inputsEmbeds.dtype).to(device);
        Tensor embeds = OptionalW(Prefix + "project_in.weight") is { } projectIn ? Linear(inputsEmbeds, projectIn, null) : inputsEmbeds;
        Tensor h = embeds.Plus(positionEmbeds);

        for (int i = 0; i < _config.Layers; i++)
        {
            hiddenStates?.Add(h);
            if (DropLayer(_config.LayerDrop, options))
            {
                continue;
            }

            string p = $"{Prefix}layers.{i}.";
            Tensor residual = h;
            Tensor x = _config.LayerNormBefore ? Norm(h, p + "self_attn_layer_norm") : h;
            Tensor q = SplitHeads(Linear(x, W(p + "self_attn.q_proj.weight"), OptionalW(p + "self_attn.q_proj.bias")) * scale, heads, headDim);
            Tensor k = SplitHeads(Linear(x, W(p + "self_attn.k_proj.weight"), OptionalW(p + "self_attn.k_proj.bias")), heads, headDim);
            Tensor v = SplitHeads(Linear(x, W(p + "self_attn.v_proj.weight"), OptionalW(p + "self_attn.v_proj.bias")), heads, headDim);
            if (cache is not null)
            {
                if (cache.TryGet(AttentionSite.DecoderSelf, i, out var kv))
                {
                    k = torch.cat([kv.Key, k], 2);
                    v = torch.cat([kv.Value, v], 2);
                }

                cache.Set(AttentionSite.DecoderSelf, i, k.alias(), v.alias());
            }

            if (options.ValueHook is not null)
            {
                v = options.ValueHook(AttentionSite.DecoderSelf, i, v);
            }

            var (context, probabilities) = Attend(torch.matmul(q, k.transpose(-1, -2)), mask, v, _config.AttentionDropout, options);
            attentions?.Add(probabilities);
            Tensor attnOut = Linear(MergeHeads(context), W(p + "self_attn.out_proj.weight"), OptionalW(p + "self_attn.out_proj.bias"));
            h = residual.Plus(Dropout(attnOut, _config.Dropout, options));
            if (!_config.LayerNormBefore)
            {
                h = Norm(h, p + "self_attn_layer_norm");
            }

            residual = h;
            Tensor y = _config.LayerNormBefore ? Norm(h, p + "final_layer_norm") : h;
            y = Linear(y, W(p + "fc1.weight"), OptionalW(p + "fc1.bias"));
            y = Activation(_config.Activation, y, options);
            y = Linear(y, W(p + "fc2.weight"), OptionalW(p + "fc2.bias"));
            h = residual.Plus(Dropout(y, _config.Dropout, options));
            if (!_config.LayerNormBefore)
            {
                h = Norm(h, p + "final_layer_norm");
            }
        }

        if (_config.FinalLayerNorm)
        {
            h = Norm(h, Prefix + "final_layer_norm");
        }

        if (OptionalW(Prefix + "project_out.weight") is { } projectOut)
        {
            h = Linear(h, projectOut, null);
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
            null,
            hiddenStates?.Select(a => a.MoveToOuterDisposeScope()).ToList());
    }

    /// <summary>OPTLearnedPositionalEmbedding's positions: cumsum(mask) · mask - 1 over past + new tokens, new ones kept
    /// (padding reads position -1, i.e. row 1 of the table).</summary>
    private static Tensor MaskPositions(Tensor? attentionMask, long batch, int past, long length, Device device)
    {
        if (attentionMask is null)
        {
            return SafeScalars.Arange(past, past + length, device).unsqueeze(0).expand(batch, length);
        }

        Tensor m = attentionMask.to(ScalarType.Int64);
        using Scalar one = 1.ToScalar();
        Tensor positions = (torch.cumsum(m, 1) * m) - one;
        return positions.narrow(1, past, length);
    }

    /// <summary>LayerNorm with the checkpoint's weight and bias (absent when layer_norm_elementwise_affine is false).</summary>
    private Tensor Norm(Tensor x, string name) =>
        nn.functional.layer_norm(x, [x.shape[^1]], OptionalW(name + ".weight"), OptionalW(name + ".bias"), 1e-5);

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _scale.Dispose();
        }

        base.Dispose(disposing);
    }
}
