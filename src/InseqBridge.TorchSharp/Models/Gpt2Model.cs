using InseqBridge.Native.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;
using static InseqBridge.Native.Models.TransformerOps;

namespace InseqBridge.Native.Models;

/// <summary>
/// GPT-2 (<c>GPT2LMHeadModel</c>): learned positions, pre-LayerNorm blocks, fused qkv Conv1D projections
/// (weights stored [in, out]), lm_head tied to <c>transformer.wte</c>.
/// </summary>
public sealed class Gpt2Model : TransformerLanguageModel
{
    private readonly Gpt2Config _config;
    private readonly string _prefix;
    private readonly int _headDim;

    internal Gpt2Model(Gpt2Config config, Dictionary<string, Tensor> weights) : base(config, weights)
    {
        _config = config;
        _prefix = weights.ContainsKey("transformer.wte.weight") ? "transformer." : string.Empty;
        _headDim = config.HiddenSize / config.Heads;
        _ = W(_prefix + "wte.weight");
    }

    /// <summary>The weights this architecture reads for <paramref name="c"/> (keys with the <c>transformer.</c> prefix
    /// when the checkpoint has it, as GPT2LMHeadModel saves them; without, as the original gpt2 files).</summary>
    internal static IReadOnlyList<WeightSpec> Weights(Gpt2Config c, IReadOnlyCollection<string> stored)
    {
        string prefix = stored.Contains("transformer.wte.weight") ? "transformer." : string.Empty;
        long d = c.HiddenSize, inner = c.InnerSize;
        var list = new List<WeightSpec>
        {
            WeightSpec.Of(prefix + "wte.weight", c.VocabSize, d),
            WeightSpec.Of(prefix + "wpe.weight", c.MaxPositions ?? 1024, d),
        };
        for (int i = 0; i < c.Layers; i++)
        {
            string p = $"{prefix}h.{i}.";
            list.AddRange(
            [
                WeightSpec.Of(p + "ln_1.weight", d), WeightSpec.Of(p + "ln_1.bias", d),
                WeightSpec.Of(p + "attn.c_attn.weight", d, 3 * d), WeightSpec.Of(p + "attn.c_attn.bias", 3 * d),
                WeightSpec.Of(p + "attn.c_proj.weight", d, d), WeightSpec.Of(p + "attn.c_proj.bias", d),
                WeightSpec.Of(p + "ln_2.weight", d), WeightSpec.Of(p + "ln_2.bias", d),
                WeightSpec.Of(p + "mlp.c_fc.weight", d, inner), WeightSpec.Of(p + "mlp.c_fc.bias", inner),
                WeightSpec.Of(p + "mlp.c_proj.weight", inner, d), WeightSpec.Of(p + "mlp.c_proj.bias", d),
            ]);
        }

        list.Add(WeightSpec.Of(prefix + "ln_f.weight", d));
        list.Add(WeightSpec.Of(prefix + "ln_f.bias", d));
        if (!c.TieWordEmbeddings)
        {
            list.Add(new WeightSpec("lm_head.weight", [c.VocabSize, d], Optional: true));
        }

        return list;
    }

    /// <inheritdoc />
    public override int DecoderLayers => _config.Layers;

    /// <inheritdoc />
    public override Tensor EmbeddingMatrix => W(_prefix + "wte.weight");

    /// <inheritdoc />
    public override Tensor LanguageModelHead(Tensor hidden) => nn.functional.linear(hidden, LmHead);

    private Tensor LmHead => _config.TieWordEmbeddings ? EmbeddingMatrix : OptionalW("lm_head.weight") ?? EmbeddingMatrix;

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

        using var scope = torch.NewDisposeScope();
        Tensor positions = positionIds ?? SafeScalars.Arange(past, past + length, inputsEmbeds.device).unsqueeze(0);
        Tensor h = Dropout(inputsEmbeds.Plus(Embedding(positions, W(_prefix + "wpe.weight"))), _config.EmbeddingDropout, options);
        Tensor mask = AdditiveMask(attentionMask, batch, length, past + length, causal: true, inputsEmbeds.device);

        for (int i = 0; i < _config.Layers; i++)
        {
            hiddenStates?.Add(h);
            string p = $"{_prefix}h.{i}.";
            Tensor x = LayerNorm(h, W(p + "ln_1.weight"), W(p + "ln_1.bias"), _config.LayerNormEpsilon);
            Tensor qkv = Conv1D(x, W(p + "attn.c_attn.weight"), W(p + "attn.c_attn.bias"));
            Tensor[] parts = qkv.split(_config.HiddenSize, 2);
            Tensor q = SplitHeads(parts[0], _config.Heads, _headDim);
            Tensor k = SplitHeads(parts[1], _config.Heads, _headDim);
            Tensor v = SplitHeads(parts[2], _config.Heads, _headDim);
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

            Tensor scores = torch.matmul(q, k.transpose(-1, -2));
            if (_config.ScaleAttentionWeights)
            {
                scores = scores.DividedBy(Math.Sqrt(_headDim));
            }

            if (_config.ScaleAttentionByInverseLayerIndex)
            {
                scores = scores.DividedBy(i + 1.0);
            }

            var (context, probabilities) = Attend(scores, mask, v, _config.AttentionDropout, options);
            attentions?.Add(probabilities);
            Tensor attnOut = Dropout(Conv1D(MergeHeads(context), W(p + "attn.c_proj.weight"), W(p + "attn.c_proj.bias")), _config.ResidualDropout, options);
            h = h.Plus(attnOut);

            Tensor y = LayerNorm(h, W(p + "ln_2.weight"), W(p + "ln_2.bias"), _config.LayerNormEpsilon);
            y = Conv1D(y, W(p + "mlp.c_fc.weight"), W(p + "mlp.c_fc.bias"));
            y = Activation(_config.Activation, y, options);
            y = Dropout(Conv1D(y, W(p + "mlp.c_proj.weight"), W(p + "mlp.c_proj.bias")), _config.ResidualDropout, options);
            h = h.Plus(y);
        }

        h = LayerNorm(h, W(_prefix + "ln_f.weight"), W(_prefix + "ln_f.bias"), _config.LayerNormEpsilon);
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
}
