using InseqBridge.Native.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;
using static InseqBridge.Native.Models.TransformerOps;

namespace InseqBridge.Native.Models;

/// <summary>
/// Phi-1 / Phi-1.5 / Phi-2 (<c>PhiForCausalLM</c>): one LayerNorm per block feeds both the attention and the MLP,
/// whose outputs are added to the block input together (attn + mlp + x); rotary embeddings on the first
/// <c>partial_rotary_factor</c> of each head's dimensions; with <c>qk_layernorm</c>, a LayerNorm over each head's
/// queries and keys before the rotation; attention scores in float32; a final LayerNorm and an lm_head with a bias.
/// </summary>
public sealed class PhiModel : TransformerLanguageModel
{
    private readonly PhiConfig _config;
    private readonly int _headDim;
    private readonly RotaryEmbedding _rotary;

    internal PhiModel(PhiConfig config, Dictionary<string, Tensor> weights) : base(config, weights)
    {
        _config = config;
        _headDim = config.HiddenSize / config.Heads;
        _rotary = new RotaryEmbedding(config.RotaryDims, config.RopeTheta);
    }

    /// <summary>
    /// The weights this architecture reads for <paramref name="c"/>, in reading order: projection biases and
    /// <c>lm_head.bias</c> optional, the per-head q/k LayerNorms with <c>qk_layernorm</c> only.
    /// </summary>
    internal static IReadOnlyList<WeightSpec> Weights(PhiConfig c)
    {
        long d = c.HiddenSize, headDim = c.HiddenSize / c.Heads, inner = c.IntermediateSize;
        long q = c.Heads * headDim, kv = c.KeyValueHeads * headDim;
        var list = new List<WeightSpec> { WeightSpec.Of("model.embed_tokens.weight", c.VocabSize, d) };
        for (int i = 0; i < c.Layers; i++)
        {
            string p = $"model.layers.{i}.";
            list.AddRange(
            [
                WeightSpec.Of(p + "input_layernorm.weight", d), WeightSpec.Of(p + "input_layernorm.bias", d),
                WeightSpec.Of(p + "self_attn.q_proj.weight", q, d), new WeightSpec(p + "self_attn.q_proj.bias", [q], Optional: true),
                WeightSpec.Of(p + "self_attn.k_proj.weight", kv, d), new WeightSpec(p + "self_attn.k_proj.bias", [kv], Optional: true),
                WeightSpec.Of(p + "self_attn.v_proj.weight", kv, d), new WeightSpec(p + "self_attn.v_proj.bias", [kv], Optional: true),
            ]);
            if (c.QkLayerNorm)
            {
                list.AddRange(
                [
                    WeightSpec.Of(p + "self_attn.q_layernorm.weight", headDim), WeightSpec.Of(p + "self_attn.q_layernorm.bias", headDim),
                    WeightSpec.Of(p + "self_attn.k_layernorm.weight", headDim), WeightSpec.Of(p + "self_attn.k_layernorm.bias", headDim),
                ]);
            }

            list.AddRange(
            [
                WeightSpec.Of(p + "self_attn.dense.weight", d, q), new WeightSpec(p + "self_attn.dense.bias", [d], Optional: true),
                WeightSpec.Of(p + "mlp.fc1.weight", inner, d), new WeightSpec(p + "mlp.fc1.bias", [inner], Optional: true),
                WeightSpec.Of(p + "mlp.fc2.weight", d, inner), new WeightSpec(p + "mlp.fc2.bias", [d], Optional: true),
            ]);
        }

        list.Add(WeightSpec.Of("model.final_layernorm.weight", d));
        list.Add(WeightSpec.Of("model.final_layernorm.bias", d));
        if (!c.TieWordEmbeddings)
        {
            list.Add(WeightSpec.Of("lm_head.weight", c.VocabSize, d));
        }

        list.Add(new WeightSpec("lm_head.bias", [c.VocabSize], Optional: true));
        return list;
    }

    /// <inheritdoc />
    public override int DecoderLayers => _config.Layers;

    /// <inheritdoc />
    public override Tensor EmbeddingMatrix => W("model.embed_tokens.weight");

    /// <inheritdoc />
    public override Tensor LanguageModelHead(Tensor hidden) =>
        nn.functional.linear(hidden, _config.TieWordEmbeddings ? EmbeddingMatrix : W("lm_head.weight"), OptionalW("lm_head.bias"));

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
        int heads = _config.Heads, kvHeads = _config.KeyValueHeads, headDim = _headDim;
        double eps = _config.LayerNormEpsilon;

        using var scope = torch.NewDisposeScope();
        Tensor positions = positionIds ?? SafeScalars.Arange(past, past + length, inputsEmbeds.device).unsqueeze(0);
        var (cos, sin) = _rotary.Tables(positions, inputsEmbeds.dtype);
        Tensor mask = AdditiveMask(attentionMask, batch, length, past + length, causal: true, inputsEmbeds.device);
        Tensor h = Dropout(inputsEmbeds, _config.EmbeddingDropout, options);

        for (int i = 0; i < _config.Layers; i++)
        {
            hiddenStates?.Add(h);
            string p = $"model.layers.{i}.";
            Tensor x = LayerNorm(h, W(p + "input_layernorm.weight"), W(p + "input_layernorm.bias"), eps);
            Tensor q = SplitHeads(Linear(x, W(p + "self_attn.q_proj.weight"), OptionalW(p + "self_attn.q_proj.bias")), heads, headDim);
            Tensor k = SplitHeads(Linear(x, W(p + "self_attn.k_proj.weight"), OptionalW(p + "self_attn.k_proj.bias")), kvHeads, headDim);
            Tensor v = SplitHeads(Linear(x, W(p + "self_attn.v_proj.weight"), OptionalW(p + "self_attn.v_proj.bias")), kvHeads, headDim);
            if (_config.QkLayerNorm)
            {
                // LayerNorm(head_dim) over each head's vectors.
                q = LayerNorm(q, W(p + "self_attn.q_layernorm.weight"), W(p + "self_attn.q_layernorm.bias"), eps);
                k = LayerNorm(k, W(p + "self_attn.k_layernorm.weight"), W(p + "self_attn.k_layernorm.bias"), eps);
            }

            q = _rotary.Apply(q, cos, sin);
            k = _rotary.Apply(k, cos, sin);
            if (cache is not null)
            {
                if (cache.TryGet(AttentionSite.DecoderSelf, i, out var kv))
                {
                    k = torch.cat([kv.Key, k], 2);
                    v = torch.cat([kv.Value, v], 2);
                }

                cache.Set(AttentionSite.DecoderSelf, i, k.alias(), v.alias());
            }

            k = RepeatKv(k, heads / kvHeads);
            v = RepeatKv(v, heads / kvHeads);
            if (options.ValueHook is not null)
            {
                v = options.ValueHook(AttentionSite.DecoderSelf, i, v);
            }

            Tensor scores = torch.matmul(q.to(ScalarType.Float32), k.to(ScalarType.Float32).transpose(2, 3)).DividedBy(Math.Sqrt(headDim));
            var (context, probabilities) = Attend(scores, mask, v, _config.AttentionDropout, options);
            attentions?.Add(probabilities);
            Tensor attnOut = Linear(MergeHeads(context), W(p + "self_attn.dense.weight"), OptionalW(p + "self_attn.dense.bias"));
            attnOut = Dropout(attnOut, _config.ResidualDropout, options);

            Tensor y = Linear(x, W(p + "mlp.fc1.weight"), OptionalW(p + "mlp.fc1.bias"));
            y = Activation(_config.Activation, y, options);
            y = Dropout(Linear(y, W(p + "mlp.fc2.weight"), OptionalW(p + "mlp.fc2.bias")), _config.ResidualDropout, options);
            h = attnOut.Plus(y).Plus(h);
        }

        h = LayerNorm(h, W("model.final_layernorm.weight"), W("model.final_layernorm.bias"), eps);
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

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _rotary.Dispose();
        }

        base.Dispose(disposing);
    }
}
