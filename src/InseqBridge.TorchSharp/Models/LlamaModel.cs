using InseqBridge.Native.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;
using static InseqBridge.Native.Models.TransformerOps;

namespace InseqBridge.Native.Models;

/// <summary>
/// The Llama family (<c>LlamaForCausalLM</c>, <c>MistralForCausalLM</c>, <c>Qwen2ForCausalLM</c>): RMSNorm,
/// rotary position embeddings (with <c>rope_scaling</c> linear, dynamic or llama3), grouped-query attention,
/// sliding-window attention (Mistral, Qwen2), SwiGLU MLP, optional biases (Qwen2's q/k/v, Llama's attention_bias and
/// mlp_bias), tied or separate output head. Computes in the weights' dtype (float32, or bfloat16/float16 when loaded
/// so): inputs are cast to it, rotary tables and RMSNorm statistics are computed in float32 and logits returned in
/// float32, as transformers does.
/// </summary>
public sealed class LlamaModel : TransformerLanguageModel
{
    private readonly LlamaConfig _config;
    private readonly Tensor _inverseFrequencies;

    internal LlamaModel(LlamaConfig config, Dictionary<string, Tensor> weights) : base(config, weights)
    {
        _config = config;
        _ = W("model.embed_tokens.weight");
        using (torch.NewDisposeScope())
        {
            _inverseFrequencies = RopeFrequencies.Initial(config.RopeTheta, config.HeadDim, config.RopeScaling).DetachFromDisposeScope();
        }
    }

    /// <summary>The weights this architecture reads for <paramref name="c"/>, in reading order.</summary>
    internal static IReadOnlyList<WeightSpec> Weights(LlamaConfig c)
    {
        long hidden = c.HiddenSize, q = (long)c.Heads * c.HeadDim, kv = (long)c.KeyValueHeads * c.HeadDim, inner = c.IntermediateSize;
        var list = new List<WeightSpec> { WeightSpec.Of("model.embed_tokens.weight", c.VocabSize, hidden) };
        for (int i = 0; i < c.Layers; i++)
        {
            string p = $"model.layers.{i}.";
            list.Add(WeightSpec.Of(p + "input_layernorm.weight", hidden));
            list.Add(WeightSpec.Of(p + "self_attn.q_proj.weight", q, hidden));
            list.Add(WeightSpec.Of(p + "self_attn.k_proj.weight", kv, hidden));
            list.Add(WeightSpec.Of(p + "self_attn.v_proj.weight", kv, hidden));
            if (c.AttentionBias)
            {
                list.AddRange([WeightSpec.Of(p + "self_attn.q_proj.bias", q), WeightSpec.Of(p + "self_attn.k_proj.bias", kv), WeightSpec.Of(p + "self_attn.v_proj.bias", kv)]);
            }

            list.Add(WeightSpec.Of(p + "self_attn.o_proj.weight", hidden, q));
            if (c.OutputBias)
            {
                list.Add(WeightSpec.Of(p + "self_attn.o_proj.bias", hidden));
            }

            list.Add(WeightSpec.Of(p + "post_attention_layernorm.weight", hidden));
            list.Add(WeightSpec.Of(p + "mlp.gate_proj.weight", inner, hidden));
            list.Add(WeightSpec.Of(p + "mlp.up_proj.weight", inner, hidden));
            list.Add(WeightSpec.Of(p + "mlp.down_proj.weight", hidden, inner));
            if (c.MlpBias)
            {
                list.AddRange([WeightSpec.Of(p + "mlp.gate_proj.bias", inner), WeightSpec.Of(p + "mlp.up_proj.bias", inner), WeightSpec.Of(p + "mlp.down_proj.bias", hidden)]);
            }
        }

        list.Add(WeightSpec.Of("model.norm.weight", hidden));
        if (!c.TieWordEmbeddings)
        {
            list.Add(WeightSpec.Of("lm_head.weight", c.VocabSize, hidden));
        }

        return list;
    }

    /// <inheritdoc />
    public override bool SupportsReducedPrecision => true;

    /// <inheritdoc />
    public override int DecoderLayers => _config.Layers;

    /// <inheritdoc />
    public override Tensor EmbeddingMatrix => W("model.embed_tokens.weight");

    /// <inheritdoc />
    public override Tensor LanguageModelHead(Tensor hidden)
    {
        if (hidden.dtype == ComputeType)
        {
            Tensor logits = nn.functional.linear(hidden, LmHead);
            return logits.dtype == ScalarType.Float32 ? logits : logits.to(ScalarType.Float32);
        }

        // Float32 hidden states of a reduced-precision model (e.g. read back through a replaced head) go in cast back.
        using Tensor cast = hidden.to(ComputeType);
        using Tensor reduced = nn.functional.linear(cast, LmHead);
        return reduced.to(ScalarType.Float32);
    }

    private Tensor LmHead => _config.TieWordEmbeddings ? EmbeddingMatrix : W("lm_head.weight");

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

        using var scope = torch.NewDisposeScope();
        Tensor positions = positionIds ?? SafeScalars.Arange(past, past + length, inputsEmbeds.device).unsqueeze(0);
        Tensor h = ToComputeType(inputsEmbeds);
        var (cos, sin) = RotaryTables(positions, h.dtype);
        Tensor mask = AdditiveMask(attentionMask, batch, length, past + length, causal: true, inputsEmbeds.device);
        Tensor? slidingMask = null;

        for (int i = 0; i < _config.Layers; i++)
        {
            hiddenStates?.Add(h);
            string p = $"model.layers.{i}.";
            Tensor x = RmsNorm(h, W(p + "input_layernorm.weight"), _config.RmsNormEpsilon);
            Tensor q = SplitHeads(Linear(x, W(p + "self_attn.q_proj.weight"), OptionalW(p + "self_attn.q_proj.bias")), heads, headDim);
            Tensor k = SplitHeads(Linear(x, W(p + "self_attn.k_proj.weight"), OptionalW(p + "self_attn.k_proj.bias")), kvHeads, headDim);
            Tensor v = SplitHeads(Linear(x, W(p + "self_attn.v_proj.weight"), OptionalW(p + "self_attn.v_proj.bias")), kvHeads, headDim);
            q = (q * cos).Plus(RotateHalf(q) * sin);
            k = (k * cos).Plus(RotateHalf(k) * sin);
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
            Tensor layerMask = mask;
            if (_config.LayerSlidingWindows.Count > i && _config.LayerSlidingWindows[i] is int window)
            {
                layerMask = slidingMask ??= AdditiveMask(attentionMask, batch, length, past + length, causal: true, inputsEmbeds.device, window);
            }

            var (context, probabilities) = Attend(scores, layerMask, v, _config.AttentionDropout, options);
            attentions?.Add(probabilities);
            h = h.Plus(Linear(MergeHeads(context), W(p + "self_attn.o_proj.weight"), OptionalW(p + "self_attn.o_proj.bias")));

            Tensor y = RmsNorm(h, W(p + "post_attention_layernorm.weight"), _config.RmsNormEpsilon);
            Tensor gate = Activation(_config.Activation, Linear(y, W(p + "mlp.gate_proj.weight"), OptionalW(p + "mlp.gate_proj.bias")), options);
            Tensor up = Linear(y, W(p + "mlp.up_proj.weight"), OptionalW(p + "mlp.up_proj.bias"));
            h = h.Plus(Linear(gate * up, W(p + "mlp.down_proj.weight"), OptionalW(p + "mlp.down_proj.bias")));
        }

        h = RmsNorm(h, W("model.norm.weight"), _config.RmsNormEpsilon);
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

    /// <summary>cos/sin tables [batch, 1, positions, head_dim] for the given position ids, computed in float32 and
    /// returned in <paramref name="dtype"/>.</summary>
    private (Tensor Cos, Tensor Sin) RotaryTables(Tensor positions, ScalarType dtype)
    {
        Tensor inv = _inverseFrequencies;
        if (_config.RopeScaling is { Type: "dynamic" } dynamic)
        {
            int maxPositions = _config.MaxPositionEmbeddings;
            // transformers grows theta once the sequence (largest position id + 1) exceeds max_position_embeddings.
            long length = positions.max().item<long>() + 1;
            if (length > maxPositions)
            {
                inv = RopeFrequencies.Dynamic(_config.RopeTheta, _config.HeadDim, dynamic.Factor, length, maxPositions);
            }
        }

        inv = inv.to(positions.device);
        Tensor freqs = positions.to(ScalarType.Float32).unsqueeze(-1) * inv.view(1, 1, -1);
        Tensor emb = torch.cat([freqs, freqs], -1);
        Tensor cos = emb.cos().unsqueeze(1), sin = emb.sin().unsqueeze(1);
        return dtype == ScalarType.Float32 ? (cos, sin) : (cos.to(dtype), sin.to(dtype));
    }

    private static Tensor RotateHalf(Tensor x)
    {
        long half = x.shape[^1] / 2;
        Tensor x1 = x.narrow(-1, 0, half);
        Tensor x2 = x.narrow(-1, half, half);
        return torch.cat([-x2, x1], -1);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inverseFrequencies.Dispose();
        }

        base.Dispose(disposing);
    }
}
