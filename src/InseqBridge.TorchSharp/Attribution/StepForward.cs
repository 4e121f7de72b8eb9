using InseqBridge.Attribution;
using InseqBridge.Native.Attribution.Methods;
using InseqBridge.Native.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution;

/// <summary>
/// The forward functions of one step of the per-step path: next-token logits of the (possibly replicated) inputs,
/// the contrastive and Monte-Carlo dropout forwards step functions ask for, and the attributed function the
/// attribution methods differentiate.
/// </summary>
internal sealed class StepForward
{
    private readonly TransformerLanguageModel _model;
    private readonly StepInputs _inputs;
    private readonly ContrastStep? _contrast;
    private readonly bool _forceContrastInputs;
    private readonly AttributionCallState _state;
    private readonly StepFunction _attributedFn;
    private readonly bool _attributeTarget;

    /// <param name="model">The model.</param>
    /// <param name="inputs">The step's inputs.</param>
    /// <param name="contrast">The step's contrastive inputs, if any.</param>
    /// <param name="forceContrastInputs"><c>contrast_force_inputs</c>.</param>
    /// <param name="state">The call's seeded state (dropout masks).</param>
    /// <param name="attributedFn">The attributed function.</param>
    /// <param name="attributeTarget">Whether the target prefix is an attributed input (always for decoder-only models).</param>
    public StepForward(
        TransformerLanguageModel model, StepInputs inputs, ContrastStep? contrast, bool forceContrastInputs,
        AttributionCallState state, StepFunction attributedFn, bool attributeTarget)
    {
        _model = model;
        _inputs = inputs;
        _contrast = contrast;
        _forceContrastInputs = forceContrastInputs;
        _state = state;
        _attributedFn = attributedFn;
        _attributeTarget = attributeTarget;
    }

    private bool EncoderDecoder => _model.IsEncoderDecoder;

    /// <summary>The attributed function of the inputs <paramref name="x"/> (source embeddings, then prefix embeddings), [rows x repeat].</summary>
    public Tensor Forward(IReadOnlyList<Tensor> x, int repeat) => ForwardWith(x, repeat, ForwardOptions.None);

    /// <summary><see cref="Forward"/> with forward options (e.g. hooks of internals methods).</summary>
    public Tensor ForwardWith(IReadOnlyList<Tensor> x, int repeat, ForwardOptions options)
    {
        Tensor src = EncoderDecoder ? x[0] : null!;
        Tensor tgt = _attributeTarget ? x[^1] : StepInputBuilder.Tile(_inputs.PrefixEmbeds, repeat);
        Tensor logits = Logits(src, tgt, repeat, options);
        return StepFunctionEvaluator.Evaluate(_attributedFn, Context(logits, src, tgt, repeat, attributed: true));
    }

    /// <summary>Next-token logits [rows x repeat, vocab] of source embeddings <paramref name="src"/> and decoder embeddings <paramref name="tgt"/>.</summary>
    public Tensor Logits(Tensor? src, Tensor tgt, int repeat, ForwardOptions? options = null) =>
        NextTokenLogits(src, EncoderDecoder ? StepInputBuilder.Tile(_inputs.SourceMask!, repeat) : null, tgt, StepInputBuilder.Tile(_inputs.PrefixMask, repeat), null, options);

    /// <summary>The step function context of <paramref name="logits"/>, with the contrastive and noisy forwards on demand.</summary>
    public StepFunctionContext Context(Tensor logits, Tensor? src, Tensor tgt, int repeat, bool attributed)
    {
        var context = new StepFunctionContext(logits, StepInputBuilder.Tile(_inputs.TargetIds, repeat))
        {
            IsAttributedFunction = attributed,
            NoisyLogits = () => NoisyLogits(src, tgt, repeat),
        };
        if (_contrast is null)
        {
            return context;
        }

        Tensor? cached = null;
        return context with
        {
            ContrastTargetIds = StepInputBuilder.Tile(_contrast.TargetIds, repeat),
            // Evaluated inside a step function's dispose scope; the cached logits must outlive it.
            ContrastLogits = () => cached ??= ContrastLogits(src, tgt, repeat).MoveToOuterDisposeScope(),
            ForceContrastInputs = _forceContrastInputs,
        };
    }

    /// <summary>
    /// Contrastive forward (Inseq's _get_contrast_inputs): encoder-decoders run on embeddings, so the attributed
    /// source (and target prefix) tensors carry gradients where the contrast keeps them; decoder-only models run
    /// on token ids.
    /// </summary>
    private Tensor ContrastLogits(Tensor? src, Tensor tgt, int repeat)
    {
        Tensor? encoderInput = null, encoderMask = null;
        if (EncoderDecoder)
        {
            (encoderInput, encoderMask) = _contrast!.SourceIds is Tensor ids
                ? (StepInputBuilder.Tile(_model.EmbedEncoderTokens(ids), repeat), StepInputBuilder.Tile(_contrast.SourceMask!, repeat))
                : (src, StepInputBuilder.Tile(_inputs.SourceMask!, repeat));
        }

        if (_contrast!.PrefixIds is Tensor prefix)
        {
            return NextTokenLogits(
                encoderInput, encoderMask, StepInputBuilder.Tile(_model.EmbedDecoderTokens(prefix), repeat),
                StepInputBuilder.Tile(_contrast.PrefixMask!, repeat), StepInputBuilder.Tile(_contrast.LastIndex!, repeat));
        }

        Tensor decoderInput = EncoderDecoder ? tgt : StepInputBuilder.Tile(_model.EmbedDecoderTokens(_inputs.PrefixIds), repeat);
        return NextTokenLogits(encoderInput, encoderMask, decoderInput, StepInputBuilder.Tile(_inputs.PrefixMask, repeat), null);
    }

    /// <summary>
    /// Monte Carlo dropout forward (mc_dropout_prob_avg), as Inseq's convert_args_to_batch: embeddings for
    /// encoder-decoders (gradients flow), token ids for decoder-only models. Masks come from the call's seeded
    /// generator; only this forward runs in training mode (Inseq leaves the model in train mode afterwards).
    /// </summary>
    private Tensor NoisyLogits(Tensor? src, Tensor tgt, int repeat) =>
        Logits(src, EncoderDecoder ? tgt : StepInputBuilder.Tile(_model.EmbedDecoderTokens(_inputs.PrefixIds), repeat), repeat, new ForwardOptions { Dropout = _state.Torch });

    /// <summary>Next-token logits [batch, vocab]: at the last position, or at <paramref name="lastIndex"/> per row.</summary>
    private Tensor NextTokenLogits(Tensor? sourceEmbeds, Tensor? sourceMask, Tensor targetEmbeds, Tensor targetMask, Tensor? lastIndex, ForwardOptions? options = null)
    {
        options ??= ForwardOptions.None;
        if (lastIndex is null)
        {
            options = options with { LastPositionOnly = true };
        }

        Tensor logits;
        if (EncoderDecoder)
        {
            EncoderOutput encoded = _model.Encode(sourceEmbeds!, sourceMask, options);
            logits = _model.Decode(targetEmbeds, targetMask, null, encoded, sourceMask, null, options).Logits;
        }
        else
        {
            logits = _model.Decode(targetEmbeds, targetMask, null, null, null, null, options).Logits;
        }

        if (lastIndex is null)
        {
            return logits.select(1, -1);
        }

        Tensor rowIndex = SafeScalars.Arange(0, logits.shape[0], logits.device);
        return logits.index([TensorIndex.Tensor(rowIndex), TensorIndex.Tensor(lastIndex)]);
    }
}
