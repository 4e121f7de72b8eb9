using InseqBridge.Native.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;
using static InseqBridge.Native.Models.TransformerOps;

namespace InseqBridge.Native.Models;

/// <summary>
/// Gemma (<c>GemmaForCausalLM</c>): the Llama layout with three differences. The input embeddings are multiplied by
/// sqrt(hidden_size) inside the model (the factor rounded to the embeddings' dtype), so what attribution
/// differentiates are the unscaled embeddings, as in transformers; RMSNorm scales by (1 + weight) and computes in
/// float32; the feed-forward is GeGLU (<c>hidden_activation</c>, gelu_pytorch_tanh by default). Heads have the
/// configured <c>head_dim</c>, keys and values may be shared across heads (grouped-query attention), and the head is
/// tied to the embeddings.
/// </summary>
public sealed class GemmaModel : TransformerLanguageModel
{
    private readonly GemmaConfig _config;
    private readonly RotaryEmbedding _rotary;

    internal GemmaModel(GemmaConfig config, Dictionary<string, Tensor> weights) : base(config, weights)
    {
        _config = config;
        _rotary = new RotaryEmbedding(config.HeadDim, config.RopeTheta);
    }

    /// <summary>The weights this architecture reads for <paramref name="c"/>, in reading order (attention biases optional).</summary>
    internal static IReadOnlyList<WeightSpec> Weights(GemmaConfig c)
    {
        long d = c.HiddenSize, q = (long)c.Heads * c.HeadDim, kv = (long)c.KeyValueHeads * c.HeadDim, inner = c.IntermediateSize;
        var list = new List<WeightSpec> { WeightSpec.Of("model.embed_tokens.weight", c.VocabSize, d) };
        for (int i = 0; i < c.Layers; i++)
        {
            string p = $"model.layers.{i}.";
            list.AddRange(
            [
                WeightSpec.Of(p + "input_layernorm.weight", d),
                WeightSpec.Of(p + "self_attn.q_proj.weight", q, d), new WeightSpec(p + "self_attn.q_proj.bias", [q], Optional: true),
                WeightSpec.Of(p + "self_attn.k_proj.weight", kv, d), new WeightSpec(p + "self_attn.k_proj.bias", [kv], Optional: true),
                WeightSpec.Of(p + "self_attn.v_proj.weight", kv, d), new WeightSpec(p + "self_attn.v_proj.bias", [kv], Optional: true),
                WeightSpec.Of(p + "self_attn.o_proj.weight", d, q), new WeightSpec(p + "self_attn.o_proj.bias", [d], Optional: true),
                WeightSpec.Of(p + "post_attention_layernorm.weight", d),
                WeightSpec.Of(p + "mlp.gate_proj.weight", inner, d), WeightSpec.Of(p + "mlp.up_proj.weight", inner, d), WeightSpec.Of(p + "mlp.down_proj.weight", d, inner),
            ]);
        }

        list.Add(WeightSpec.Of("model.norm.weight", d));
        if (!c.TieWordEmbeddings)
        {
            list.Add(WeightSpec.Of("lm_head.weight", c.VocabSize, d));
        }

        return list;
    }

    /// <inheritdoc />
    public override int DecoderLayers => _config.Layers;

    /// <inheritdoc />
    public override Tensor EmbeddingMatrix => W("model.embed_tokens.weight");

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
        int heads = _config.Heads, kvHeads = _config.KeyValueHeads, headDim = _config.HeadDim;
        double eps = _config.RmsNormEpsilon;

        using var scope = torch.NewDisposeScope();
        Tensor positions = positionIds ?? SafeScalars.Arange(past, past + length, inputsEmbeds.device).unsqueeze(0);
        var (cos, sin) = _rotary.Tables(positions, inputsEmbeds.dtype);
        Tensor mask = AdditiveMask(attentionMask, batch, length, past + length, causal: true, inputsEmbeds.device);

        // normalizer = torch.tensor(hidden_size ** 0.5, dtype=hidden_states.dtype).
        Tensor normalizer = torch.tensor(Math.Sqrt(_config.HiddenSize), inputsEmbeds.dtype, inputsEmbeds.device);
        Tensor h = inputsEmbeds * normalizer;

        for (int i = 0; i < _config.Layers; i++)
        {
            hiddenStates?.Add(h);
            string p = $"model.layers.{i}.";
            Tensor x = Norm(h, W(p + "input_layernorm.weight"), eps);
            Tensor q = SplitHeads(Linear(x, W(p + "self_attn.q_proj.weight"), OptionalW(p + "self_attn.q_proj.bias")), heads, headDim);
            Tensor k = SplitHeads(Linear(x, W(p + "self_attn.k_proj.weight"), OptionalW(p + "self_attn.k_proj.bias")), kvHeads, headDim);
            Tensor v = SplitHeads(Linear(x, W(p + "self_attn.v_proj.weight"), OptionalW(p + "self_attn.v_proj.bias")), kvHeads, headDim);
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

            Tensor scores = torch.matmul(q, k.transpose(2, 3)).DividedBy(Math.Sqrt(headDim));
            var (context, probabilities) = Attend(scores, mask, v, _config.AttentionDropout, options);
            attentions?.Add(probabilities);
            h = h.Plus(Linear(MergeHeads(context), W(p + "self_attn.o_proj.weight"), OptionalW(p + "self_attn.o_proj.bias")));

            Tensor y = Norm(h, W(p + "post_attention_layernorm.weight"), eps);
            Tensor gate = Activation(_config.Activation, Linear(y, W(p + "mlp.gate_proj.weight"), null), options);
            Tensor up = Linear(y, W(p + "mlp.up_proj.weight"), null);
            h = h.Plus(Linear(gate * up, W(p + "mlp.down_proj.weight"), null));
        }

        h = Norm(h, W("model.norm.weight"), eps);
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

    /// <summary>GemmaRMSNorm: x · rsqrt(mean(x²) + eps) · (1 + weight), computed in float32, returned in x's dtype.</summary>
    private static Tensor Norm(Tensor x, Tensor weight, double eps)
    {
        using var scope = torch.NewDisposeScope();
        Tensor x32 = x.to(ScalarType.Float32);
        Tensor normed = x32 * torch.rsqrt(x32.Power(2).mean([-1], keepdim: true).Plus(eps));
        Tensor output = normed * weight.to(ScalarType.Float32).Plus(1.0);
        return output.to(x.dtype).MoveToOuterDisposeScope();
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
