using InseqBridge.TorchSharp.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;
using static InseqBridge.TorchSharp.Models.TransformerOps;

namespace InseqBridge.TorchSharp.Models;

/// <summary>
/// The Llama family (<c>LlamaForCausalLM</c>, <c>MistralForCausalLM</c>, <c>Qwen2ForCausalLM</c>): RMSNorm,
/// rotary position embeddings, grouped-query attention, SwiGLU MLP, optional q/k/v biases (Qwen2).
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
            // inv_freq = 1 / theta^(arange(0, dim, 2) / dim), as transformers computes it in float32.
            Tensor exponents = torch.arange(0, config.HeadDim, 2, dtype: ScalarType.Int64).to(ScalarType.Float32) / config.HeadDim;
            _inverseFrequencies = (1.0 / torch.pow(config.RopeTheta, exponents)).to(ScalarType.Float32).DetachFromDisposeScope();
        }
    }

    /// <inheritdoc />
    public override int DecoderLayers => _config.Layers;

    /// <inheritdoc />
    public override Tensor EmbeddingMatrix => W("model.embed_tokens.weight");

    /// <inheritdoc />
    public override Tensor LanguageModelHead(Tensor hidden) => nn.functional.linear(hidden, LmHead);

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
        Tensor positions = positionIds ?? torch.arange(past, past + length, device: inputsEmbeds.device).unsqueeze(0);
        var (cos, sin) = RotaryTables(positions);
        Tensor mask = AdditiveMask(attentionMask, batch, length, past + length, causal: true, inputsEmbeds.device);
        Tensor h = inputsEmbeds;

        for (int i = 0; i < _config.Layers; i++)
        {
            hiddenStates?.Add(h);
            string p = $"model.layers.{i}.";
            Tensor x = RmsNorm(h, W(p + "input_layernorm.weight"), _config.RmsNormEpsilon);
            Tensor q = SplitHeads(Linear(x, W(p + "self_attn.q_proj.weight"), OptionalW(p + "self_attn.q_proj.bias")), heads, headDim);
            Tensor k = SplitHeads(Linear(x, W(p + "self_attn.k_proj.weight"), OptionalW(p + "self_attn.k_proj.bias")), kvHeads, headDim);
            Tensor v = SplitHeads(Linear(x, W(p + "self_attn.v_proj.weight"), OptionalW(p + "self_attn.v_proj.bias")), kvHeads, headDim);
            q = q * cos + RotateHalf(q) * sin;
            k = k * cos + RotateHalf(k) * sin;
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

            Tensor scores = torch.matmul(q, k.transpose(2, 3)) / Math.Sqrt(headDim);
            var (context, probabilities) = Attend(scores, mask, v, _config.AttentionDropout, options);
            attentions?.Add(probabilities);
            h = h + Linear(MergeHeads(context), W(p + "self_attn.o_proj.weight"), OptionalW(p + "self_attn.o_proj.bias"));

            Tensor y = RmsNorm(h, W(p + "post_attention_layernorm.weight"), _config.RmsNormEpsilon);
            Tensor gate = Activation(_config.Activation, Linear(y, W(p + "mlp.gate_proj.weight"), null), options);
            Tensor up = Linear(y, W(p + "mlp.up_proj.weight"), null);
            h = h + Linear(gate * up, W(p + "mlp.down_proj.weight"), null);
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

    /// <summary>cos/sin tables [batch, 1, positions, head_dim] for the given position ids.</summary>
    private (Tensor Cos, Tensor Sin) RotaryTables(Tensor positions)
    {
        Tensor inv = _inverseFrequencies.to(positions.device);
        Tensor freqs = positions.to(ScalarType.Float32).unsqueeze(-1) * inv.view(1, 1, -1);
        Tensor emb = torch.cat([freqs, freqs], -1);
        return (emb.cos().unsqueeze(1), emb.sin().unsqueeze(1));
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
