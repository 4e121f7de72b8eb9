using InseqBridge.Native.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;
using static InseqBridge.Native.Models.TransformerOps;

namespace InseqBridge.Native.Models;

/// <summary>
/// GPT-NeoX / Pythia (<c>GPTNeoXForCausalLM</c>): pre-LayerNorm blocks whose fused <c>query_key_value</c> projection
/// is laid out per head ([q | k | v] of head 0, then head 1, ...), rotary embeddings on the first
/// <c>rotary_pct</c> of each head's dimensions, and (with <c>use_parallel_residual</c>) attention and MLP both
/// reading the block input: x + attn(ln1(x)) + mlp(ln2(x)). The head <c>embed_out</c> is untied by default.
/// </summary>
public sealed class GptNeoXModel : TransformerLanguageModel
{
    private const string Prefix = "gpt_neox.";
    private readonly GptNeoXConfig _config;
    private readonly int _headDim;
    private readonly RotaryEmbedding _rotary;
    private readonly Tensor _scale;

    internal GptNeoXModel(GptNeoXConfig config, Dictionary<string, Tensor> weights) : base(config, weights)
    {
        _config = config;
        _headDim = config.HiddenSize / config.Heads;
        _rotary = new RotaryEmbedding(config.RotaryDims, config.RopeTheta);

        // norm_factor = head_size ** -0.5, the alpha of transformers' baddbmm.
        _scale = torch.tensor(Math.Pow(_headDim, -0.5), ScalarType.Float32);
    }

    /// <summary>The weights this architecture reads for <paramref name="c"/>, in reading order (projection biases optional).</summary>
    internal static IReadOnlyList<WeightSpec> Weights(GptNeoXConfig c)
    {
        long d = c.HiddenSize, inner = c.IntermediateSize;
        var list = new List<WeightSpec> { WeightSpec.Of(Prefix + "embed_in.weight", c.VocabSize, d) };
        for (int i = 0; i < c.Layers; i++)
        {
            string p = $"{Prefix}layers.{i}.";
            list.AddRange(
            [
                WeightSpec.Of(p + "input_layernorm.weight", d), WeightSpec.Of(p + "input_layernorm.bias", d),
                WeightSpec.Of(p + "attention.query_key_value.weight", 3 * d, d), new WeightSpec(p + "attention.query_key_value.bias", [3 * d], Optional: true),
                WeightSpec.Of(p + "attention.dense.weight", d, d), new WeightSpec(p + "attention.dense.bias", [d], Optional: true),
                WeightSpec.Of(p + "post_attention_layernorm.weight", d), WeightSpec.Of(p + "post_attention_layernorm.bias", d),
                WeightSpec.Of(p + "mlp.dense_h_to_4h.weight", inner, d), new WeightSpec(p + "mlp.dense_h_to_4h.bias", [inner], Optional: true),
                WeightSpec.Of(p + "mlp.dense_4h_to_h.weight", d, inner), new WeightSpec(p + "mlp.dense_4h_to_h.bias", [d], Optional: true),
            ]);
        }

        list.Add(WeightSpec.Of(Prefix + "final_layer_norm.weight", d));
        list.Add(WeightSpec.Of(Prefix + "final_layer_norm.bias", d));
        if (!c.TieWordEmbeddings)
        {
            list.Add(WeightSpec.Of("embed_out.weight", c.VocabSize, d));
        }

        return list;
    }

    /// <inheritdoc />
    public override int DecoderLayers => _config.Layers;

    /// <inheritdoc />
    public override Tensor EmbeddingMatrix => W(Prefix + "embed_in.weight");

    /// <inheritdoc />
    public override Tensor LanguageModelHead(Tensor hidden) =>
        nn.functional.linear(hidden, _config.TieWordEmbeddings ? EmbeddingMatrix : W("embed_out.weight"));

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
        double eps = _config.LayerNormEpsilon;

        using var scope = torch.NewDisposeScope();
        Tensor positions = positionIds ?? SafeScalars.Arange(past, past + length, inputsEmbeds.device).unsqueeze(0);
        var (cos, sin) = _rotary.Tables(positions, inputsEmbeds.dtype);
        Tensor mask = AdditiveMask(attentionMask, batch, length, past + length, causal: true, inputsEmbeds.device);
        Tensor scale = _scale.to(inputsEmbeds.dtype).to(inputsEmbeds.device);
        Tensor h = Dropout(inputsEmbeds, _config.HiddenDropout, options);

        for (int i = 0; i < _config.Layers; i++)
        {
            hiddenStates?.Add(h);
            string p = $"{Prefix}layers.{i}.";
            Tensor x = LayerNorm(h, W(p + "input_layernorm.weight"), W(p + "input_layernorm.bias"), eps);

            // [batch, seq, heads * 3 * head_dim] → [batch, heads, seq, 3 * head_dim], then q | k | v per head.
            Tensor qkv = Linear(x, W(p + "attention.query_key_value.weight"), OptionalW(p + "attention.query_key_value.bias"))
                .view(batch, length, heads, 3 * headDim).permute(0, 2, 1, 3);
            Tensor q = _rotary.Apply(qkv.narrow(-1, 0, headDim), cos, sin);
            Tensor k = _rotary.Apply(qkv.narrow(-1, headDim, headDim), cos, sin);
            Tensor v = qkv.narrow(-1, 2 * headDim, headDim);
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

            Tensor scores = torch.matmul(q, k.transpose(-1, -2)) * scale;
            var (context, probabilities) = Attend(scores, mask, v, _config.AttentionDropout, options);
            attentions?.Add(probabilities);
            Tensor attnOut = Linear(MergeHeads(context), W(p + "attention.dense.weight"), OptionalW(p + "attention.dense.bias"));
            attnOut = Dropout(attnOut, _config.HiddenDropout, options);

            if (_config.ParallelResidual)
            {
                Tensor mlpOut = Mlp(LayerNorm(h, W(p + "post_attention_layernorm.weight"), W(p + "post_attention_layernorm.bias"), eps), p, options);
                h = mlpOut.Plus(attnOut).Plus(h);
            }
            else
            {
                Tensor attnResidual = attnOut.Plus(h);
                Tensor mlpOut = Mlp(LayerNorm(attnResidual, W(p + "post_attention_layernorm.weight"), W(p + "post_attention_layernorm.bias"), eps), p, options);
                h = mlpOut.Plus(attnResidual);
            }
        }

        h = LayerNorm(h, W(Prefix + "final_layer_norm.weight"), W(Prefix + "final_layer_norm.bias"), eps);
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

    private Tensor Mlp(Tensor x, string p, ForwardOptions options)
    {
        Tensor y = Linear(x, W(p + "mlp.dense_h_to_4h.weight"), OptionalW(p + "mlp.dense_h_to_4h.bias"));
        y = Activation(_config.Activation, y, options);
        y = Linear(y, W(p + "mlp.dense_4h_to_h.weight"), OptionalW(p + "mlp.dense_4h_to_h.bias"));
        return Dropout(y, _config.HiddenDropout, options);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _rotary.Dispose();
            _scale.Dispose();
        }

        base.Dispose(disposing);
    }
}
