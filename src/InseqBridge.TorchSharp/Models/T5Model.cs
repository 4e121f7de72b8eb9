using InseqBridge.Native.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;
using static InseqBridge.Native.Models.TransformerOps;

namespace InseqBridge.Native.Models;

/// <summary>
/// T5 (<c>T5ForConditionalGeneration</c>): pre-RMSNorm blocks, unscaled dot-product attention with relative
/// position buckets (bias table in the first block of each stack), ReLU or gated-GELU feed-forward, lm_head tied
/// to <c>shared</c> with the d_model^-0.5 rescaling. T5 v1.1 and MT5 (<c>model_type</c> <c>mt5</c>,
/// <c>MT5ForConditionalGeneration</c>) are the same network with <c>feed_forward_proj</c> gated-gelu (gelu_new on
/// <c>wi_0</c> times <c>wi_1</c>) and an untied <c>lm_head</c> applied without the rescaling.
/// </summary>
public sealed class T5Model : TransformerLanguageModel
{
    private readonly T5Config _config;

    internal T5Model(T5Config config, Dictionary<string, Tensor> weights) : base(config, weights)
    {
        _config = config;
    }

    /// <summary>
    /// The weights this architecture reads for <paramref name="c"/>, in reading order: the relative position bias
    /// table in block 0 of each stack only, <c>wi_0</c>/<c>wi_1</c> for a gated <c>feed_forward_proj</c> (T5 v1.1, MT5)
    /// or <c>wi</c> otherwise, and <c>lm_head</c> only when untied (T5 v1.1 / MT5: falling back to <c>shared</c>
    /// would drop the rescale silently, so it must be stored).
    /// </summary>
    internal static IReadOnlyList<WeightSpec> Weights(T5Config c)
    {
        long d = c.HiddenSize, inner = (long)c.Heads * c.KeyValueSize, ffn = c.FfnSize;
        bool gated = c.FeedForward.StartsWith("gated-", StringComparison.Ordinal);
        var list = new List<WeightSpec> { WeightSpec.Of("shared.weight", c.VocabSize, d) };
        void AttentionBlock(string p, string name, bool relativeBias)
        {
            list.Add(WeightSpec.Of(p + "layer_norm.weight", d));
            list.Add(WeightSpec.Of($"{p}{name}.q.weight", inner, d));
            list.Add(WeightSpec.Of($"{p}{name}.k.weight", inner, d));
            list.Add(WeightSpec.Of($"{p}{name}.v.weight", inner, d));
            list.Add(WeightSpec.Of($"{p}{name}.o.weight", d, inner));
            if (relativeBias)
            {
                list.Add(WeightSpec.Of($"{p}{name}.relative_attention_bias.weight", c.RelativeBuckets, c.Heads));
            }
        }

        void Stack(string stack, int layers, bool decoder)
        {
            for (int i = 0; i < layers; i++)
            {
                string p = $"{stack}block.{i}.layer.";
                AttentionBlock(p + "0.", "SelfAttention", relativeBias: i == 0);
                if (decoder)
                {
                    AttentionBlock(p + "1.", "EncDecAttention", relativeBias: false);
                }

                string f = p + (decoder ? "2." : "1.");
                list.Add(WeightSpec.Of(f + "layer_norm.weight", d));
                if (gated)
                {
                    list.Add(WeightSpec.Of(f + "DenseReluDense.wi_0.weight", ffn, d));
                    list.Add(WeightSpec.Of(f + "DenseReluDense.wi_1.weight", ffn, d));
                }
                else
                {
                    list.Add(WeightSpec.Of(f + "DenseReluDense.wi.weight", ffn, d));
                }

                list.Add(WeightSpec.Of(f + "DenseReluDense.wo.weight", d, ffn));
            }

            list.Add(WeightSpec.Of(stack + "final_layer_norm.weight", d));
        }

        Stack("encoder.", c.EncoderLayers, decoder: false);
        Stack("decoder.", c.DecoderLayers, decoder: true);
        if (!c.TieWordEmbeddings)
        {
            list.Add(WeightSpec.Of("lm_head.weight", c.VocabSize, d));
        }

        return list;
    }

    /// <inheritdoc />
    public override int DecoderLayers => _config.DecoderLayers;

    /// <inheritdoc />
    public override int EncoderLayers => _config.EncoderLayers;

    /// <inheritdoc />
    public override Tensor EmbeddingMatrix => W("shared.weight");

    /// <inheritdoc />
    public override EncoderOutput Encode(Tensor inputsEmbeds, Tensor? attentionMask, ForwardOptions options)
    {
        long batch = inputsEmbeds.shape[0], length = inputsEmbeds.shape[1];
        var attentions = options.OutputAttentions ? new List<Tensor>() : null;
        var hiddenStates = options.OutputHiddenStates ? new List<Tensor>() : null;

        using var scope = torch.NewDisposeScope();
        Tensor mask = AdditiveMask(attentionMask, batch, length, length, causal: false, inputsEmbeds.device);
        Tensor bias = PositionBias("encoder.", length, length, 0, bidirectional: true, inputsEmbeds.device).Plus(mask);
        Tensor h = Dropout(inputsEmbeds, _config.DropoutRate, options);
        for (int i = 0; i < _config.EncoderLayers; i++)
        {
            hiddenStates?.Add(h);
            string p = $"encoder.block.{i}.layer.";
            Tensor normed = RmsNorm(h, W(p + "0.layer_norm.weight"), _config.LayerNormEpsilon);
            var (attn, probabilities) = Attention(normed, normed, bias, p + "0.SelfAttention.", AttentionSite.EncoderSelf, i, null, options);
            attentions?.Add(probabilities);
            h = h.Plus(Dropout(attn, _config.DropoutRate, options));
            h = FeedForward(h, p + "1.", options);
        }

        h = Dropout(RmsNorm(h, W("encoder.final_layer_norm.weight"), _config.LayerNormEpsilon), _config.DropoutRate, options);
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
        Tensor selfMask = AdditiveMask(attentionMask, batch, length, past + length, causal: true, inputsEmbeds.device);
        Tensor selfBias = PositionBias("decoder.", length, past + length, past, bidirectional: false, inputsEmbeds.device).Plus(selfMask);
        Tensor crossBias = AdditiveMask(encoderAttentionMask, batch, length, source, causal: false, inputsEmbeds.device);
        Tensor h = Dropout(inputsEmbeds, _config.DropoutRate, options);
        for (int i = 0; i < _config.DecoderLayers; i++)
        {
            hiddenStates?.Add(h);
            string p = $"decoder.block.{i}.layer.";
            Tensor normed = RmsNorm(h, W(p + "0.layer_norm.weight"), _config.LayerNormEpsilon);
            var (attn, probabilities) = Attention(normed, normed, selfBias, p + "0.SelfAttention.", AttentionSite.DecoderSelf, i, cache, options);
            attentions?.Add(probabilities);
            h = h.Plus(Dropout(attn, _config.DropoutRate, options));

            Tensor normedCross = RmsNorm(h, W(p + "1.layer_norm.weight"), _config.LayerNormEpsilon);
            var (cross, crossProbabilities) = Attention(normedCross, encoder.LastHiddenState, crossBias, p + "1.EncDecAttention.", AttentionSite.Cross, i, cache, options);
            crossAttentions?.Add(crossProbabilities);
            h = h.Plus(Dropout(cross, _config.DropoutRate, options));
            h = FeedForward(h, p + "2.", options);
        }

        h = Dropout(RmsNorm(h, W("decoder.final_layer_norm.weight"), _config.LayerNormEpsilon), _config.DropoutRate, options);
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
        Tensor head = OptionalW("lm_head.weight") is Tensor untied && !_config.TieWordEmbeddings ? untied : EmbeddingMatrix;
        Tensor output = _config.TieWordEmbeddings ? hidden.Times(Math.Pow(_config.HiddenSize, -0.5)) : hidden;
        return nn.functional.linear(output, head);
    }

    private (Tensor Output, Tensor Probabilities) Attention(
        Tensor hidden, Tensor keyValueSource, Tensor bias, string p, AttentionSite site, int layer, KvCache? cache, ForwardOptions options)
    {
        int heads = _config.Heads, headDim = _config.KeyValueSize;
        Tensor q = SplitHeads(Linear(hidden, W(p + "q.weight"), null), heads, headDim);
        Tensor k, v;
        if (site == AttentionSite.Cross && cache is not null && cache.TryGet(site, layer, out var cached))
        {
            (k, v) = (cached.Key, cached.Value);
        }
        else
        {
            k = SplitHeads(Linear(keyValueSource, W(p + "k.weight"), null), heads, headDim);
            v = SplitHeads(Linear(keyValueSource, W(p + "v.weight"), null), heads, headDim);
            if (cache is not null)
            {
                if (site == AttentionSite.DecoderSelf && cache.TryGet(site, layer, out var kv))
                {
                    k = torch.cat([kv.Key, k], 2);
                    v = torch.cat([kv.Value, v], 2);
                }

                cache.Set(site, layer, k.alias(), v.alias());
            }
        }

        if (options.ValueHook is not null)
        {
            v = options.ValueHook(site, layer, v);
        }

        Tensor scores = torch.matmul(q, k.transpose(-1, -2));
        var (context, probabilities) = Attend(scores, bias, v, _config.DropoutRate, options);
        return (Linear(MergeHeads(context), W(p + "o.weight"), null), probabilities);
    }

    private Tensor FeedForward(Tensor h, string p, ForwardOptions options)
    {
        Tensor normed = RmsNorm(h, W(p + "layer_norm.weight"), _config.LayerNormEpsilon);
        Tensor y;
        if (OptionalW(p + "DenseReluDense.wi_0.weight") is Tensor wi0)
        {
            string act = _config.FeedForward.StartsWith("gated-", StringComparison.Ordinal) ? _config.FeedForward["gated-".Length..] : "gelu_new";
            if (act == "gelu")
            {
                act = "gelu_new";
            }

            y = Activation(act, Linear(normed, wi0, null), options) * Linear(normed, W(p + "DenseReluDense.wi_1.weight"), null);
        }
        else
        {
            y = Activation(_config.FeedForward, Linear(normed, W(p + "DenseReluDense.wi.weight"), null), options);
        }

        y = Dropout(y, _config.DropoutRate, options);
        return h.Plus(Dropout(Linear(y, W(p + "DenseReluDense.wo.weight"), null), _config.DropoutRate, options));
    }

    /// <summary>Relative position bias [1, heads, queries, keys] for queries at past..past+queries-1.</summary>
    private Tensor PositionBias(string stack, long queries, long keys, int past, bool bidirectional, Device device)
    {
        Tensor context = SafeScalars.Arange(past, past + queries, device).view(queries, 1);
        Tensor memory = SafeScalars.Arange(0, keys, device).view(1, keys);
        Tensor buckets = RelativeBucket(memory - context, bidirectional, _config.RelativeBuckets, _config.RelativeMaxDistance);
        Tensor table = W(stack + "block.0.layer.0.SelfAttention.relative_attention_bias.weight");
        Tensor values = Embedding(buckets, table); // [q, k, heads]
        return values.permute(2, 0, 1).unsqueeze(0);
    }

    private static Tensor RelativeBucket(Tensor relative, bool bidirectional, int buckets, int maxDistance)
    {
        Tensor result = torch.zeros_like(relative);
        if (bidirectional)
        {
            buckets /= 2;
            result = result.Plus(relative.gt(SafeScalars.Zero).to(ScalarType.Int64).Times(buckets));
            relative = relative.abs();
        }
        else
        {
            relative = -torch.minimum(relative, torch.zeros_like(relative));
        }

        int maxExact = buckets / 2;
        using Scalar exact = maxExact.ToScalar();
        using Scalar lastBucket = (buckets - 1).ToScalar();
        Tensor isSmall = relative.lt(exact);
        Tensor large = torch.log(relative.to(ScalarType.Float32).div(exact)).DividedBy(Math.Log((double)maxDistance / maxExact)).Times(buckets - maxExact).to(ScalarType.Int64).add(exact, SafeScalars.One);
        large = torch.minimum(large, torch.full_like(large, lastBucket));
        return result.Plus(torch.where(isSmall, relative, large));
    }
}
