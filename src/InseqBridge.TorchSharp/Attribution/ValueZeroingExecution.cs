using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Native.Attribution.Methods;
using InseqBridge.Native.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution;

/// <summary>
/// Value zeroing as a final-step method: one clean forward of the longest prefix with hidden states, the scores of
/// each attention site, then each step takes the column of its position (as Inseq slices a final-step output).
/// </summary>
internal sealed class ValueZeroingExecution : IStepExecution
{
    private readonly TransformerLanguageModel _model;
    private readonly ValueZeroing _method;
    private readonly bool _attributeTarget;
    private readonly StepInputBuilder _inputs;

    /// <param name="model">The model.</param>
    /// <param name="method">The method and its options.</param>
    /// <param name="attributeTarget">The request's <c>attribute_target</c>.</param>
    /// <param name="inputs">The batch's step inputs.</param>
    public ValueZeroingExecution(TransformerLanguageModel model, ValueZeroing method, bool attributeTarget, StepInputBuilder inputs)
    {
        _model = model;
        _method = method;
        _attributeTarget = attributeTarget;
        _inputs = inputs;
    }

    private bool EncoderDecoder => _model.IsEncoderDecoder;

    /// <summary>Scores [batch, zeroed tokens, positions, layers] per attention site (null where not computed).</summary>
    private sealed record SiteScores(Tensor? Decoder, Tensor? Cross, Tensor? Encoder);

    /// <inheritdoc/>
    public StepExecutionResult Execute(int start, int iterEnd, IProgress<int>? stepDone, CancellationToken cancellationToken)
    {
        using var noGrad = torch.no_grad();
        int step = iterEnd - 1;
        int[] rows = _inputs.AllRows();
        SiteScores scores = Scores(rows, step);

        // Scores are [batch, zeroed tokens, positions, layers]; step pos reads position pos - 1.
        int layers = (int)(scores.Cross ?? scores.Decoder)!.shape[3];
        bool targetSide = !EncoderDecoder || _attributeTarget;
        var records = new List<StepRecord>();
        for (int pos = start; pos < iterEnd; pos++)
        {
            var record = new StepRecord { Position = pos, Rows = rows };
            if (scores.Cross is not null)
            {
                record.Source = HostRows.Split(scores.Cross.select(2, pos - 1));
            }

            if (targetSide)
            {
                record.Target = HostRows.Split(scores.Decoder!.select(2, pos - 1).narrow(1, 0, pos));
            }

            records.Add(record);
        }

        var sequenceScores = new List<SequenceScore>();
        if (scores.Encoder is not null)
        {
            sequenceScores.Add(EncoderSelfScores(scores.Encoder, _inputs.Sources!.Width));
        }

        if (EncoderDecoder && !_attributeTarget && scores.Decoder is not null)
        {
            sequenceScores.Add(DecoderSelfScores(scores.Decoder, step, layers));
        }

        return new StepExecutionResult(records, [layers], sequenceScores);
    }

    /// <summary>The value zeroing scores of each attention site the request reads, from one clean forward of the prefix before <paramref name="step"/>.</summary>
    private SiteScores Scores(int[] rows, int step)
    {
        Tensor prefixIds = _inputs.Rows(_inputs.Targets.Ids, rows, step);
        Tensor prefixMask = _inputs.Rows(_inputs.Targets.Mask, rows, step);
        Tensor prefixEmbeds = _model.EmbedDecoderTokens(prefixIds);
        var hiddenStates = new ForwardOptions { OutputHiddenStates = true };
        if (!EncoderDecoder)
        {
            DecoderOutput decoded = _model.Decode(prefixEmbeds, prefixMask, null, null, null, null, hiddenStates);
            IReadOnlyList<Tensor> DecoderOnlyForward(ForwardOptions options, int repeat) =>
                _model.Decode(StepInputBuilder.Tile(prefixEmbeds, repeat), StepInputBuilder.Tile(prefixMask, repeat), null, null, null, null, options).HiddenStates!;
            return new SiteScores(
                ValueZeroingAttributor.Scores(DecoderOnlyForward, decoded.HiddenStates!, AttentionSite.DecoderSelf, step, _method.DecoderZeroedUnits, causal: true), null, null);
        }

        EncodedTexts sources = _inputs.Sources!;
        Tensor sourceIds = _inputs.Rows(sources.Ids, rows, sources.Width);
        Tensor sourceMask = _inputs.Rows(sources.Mask, rows, sources.Width);
        Tensor sourceEmbeds = _model.EmbedEncoderTokens(sourceIds);
        EncoderOutput encoded = _model.Encode(sourceEmbeds, sourceMask, hiddenStates);
        DecoderOutput clean = _model.Decode(prefixEmbeds, prefixMask, null, encoded, sourceMask, null, hiddenStates);
        IReadOnlyList<Tensor> DecoderForward(ForwardOptions options, int repeat) =>
            _model.Decode(
                StepInputBuilder.Tile(prefixEmbeds, repeat), StepInputBuilder.Tile(prefixMask, repeat), null,
                new EncoderOutput(StepInputBuilder.Tile(encoded.LastHiddenState, repeat), null, null),
                StepInputBuilder.Tile(sourceMask, repeat), null, options).HiddenStates!;
        IReadOnlyList<Tensor> EncoderForward(ForwardOptions options, int repeat) =>
            _model.Encode(StepInputBuilder.Tile(sourceEmbeds, repeat), StepInputBuilder.Tile(sourceMask, repeat), options).HiddenStates!;

        Tensor? decoderScores = null, encoderScores = null;
        if (_method.OutputDecoderSelfScores || _attributeTarget)
        {
            decoderScores = ValueZeroingAttributor.Scores(DecoderForward, clean.HiddenStates!, AttentionSite.DecoderSelf, step, _method.DecoderZeroedUnits, causal: true);
        }

        if (_method.OutputEncoderSelfScores)
        {
            encoderScores = ValueZeroingAttributor.Scores(EncoderForward, encoded.HiddenStates!, AttentionSite.EncoderSelf, sources.Width, _method.EncoderZeroedUnits, causal: false);
        }

        Tensor crossScores = ValueZeroingAttributor.Scores(DecoderForward, clean.HiddenStates!, AttentionSite.Cross, sources.Width, _method.CrossZeroedUnits, causal: false);
        return new SiteScores(decoderScores, crossScores, encoderScores);
    }

    /// <summary>
    /// <c>encoder_self_scores</c>: [zeroed source token, source position, encoder layers] without padding. The
    /// encoder's own layer count (distilled checkpoints have fewer encoder or decoder layers).
    /// </summary>
    private static SequenceScore EncoderSelfScores(Tensor encoderScores, int width)
    {
        float[][] encoder = HostRows.Split(encoderScores);
        int encoderLayers = (int)encoderScores.shape[3];
        NdArray Build(int b, int s, int n)
        {
            var data = new float[s * s * encoderLayers];
            for (int a = 0; a < s; a++)
            {
                Array.Copy(encoder[b], a * width * encoderLayers, data, a * s * encoderLayers, s * encoderLayers);
            }

            return new NdArray(data, [s, s, encoderLayers]);
        }

        return new SequenceScore("encoder_self_scores", Build);
    }

    /// <summary>
    /// <c>decoder_self_scores</c>: Inseq stacks the same [zeroed, positions, layers] tensor once per step (dimension
    /// 1), then keeps as many zeroed tokens and steps as the sequence has steps.
    /// </summary>
    private static SequenceScore DecoderSelfScores(Tensor decoderScores, int prefix, int layers)
    {
        float[][] decoder = HostRows.Split(decoderScores);
        NdArray Build(int b, int s, int n)
        {
            int kept = Math.Min(prefix, n);
            int block = prefix * layers;
            var data = new float[kept * n * block];
            for (int a = 0; a < kept; a++)
            {
                for (int k = 0; k < n; k++)
                {
                    Array.Copy(decoder[b], a * block, data, ((a * n) + k) * block, block);
                }
            }

            return new NdArray(data, [kept, n, prefix, layers]);
        }

        return new SequenceScore("decoder_self_scores", Build);
    }
}
