using InseqBridge.Data;
using InseqBridge.Native.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution;

/// <summary>
/// Final-step methods (attention weights): one forward of the longest prefix, then each step takes its query row,
/// as Inseq slices a final-step output.
/// </summary>
internal sealed class FinalStepExecution : IStepExecution
{
    private readonly TransformerLanguageModel _model;
    private readonly bool _attributeTarget;
    private readonly StepInputBuilder _inputs;

    /// <param name="model">The model.</param>
    /// <param name="attributeTarget">The request's <c>attribute_target</c>.</param>
    /// <param name="inputs">The batch's step inputs.</param>
    public FinalStepExecution(TransformerLanguageModel model, bool attributeTarget, StepInputBuilder inputs)
    {
        _model = model;
        _attributeTarget = attributeTarget;
        _inputs = inputs;
    }

    private bool EncoderDecoder => _model.IsEncoderDecoder;

    /// <inheritdoc/>
    public StepExecutionResult Execute(int start, int iterEnd, IProgress<int>? stepDone, CancellationToken cancellationToken)
    {
        using var noGrad = torch.no_grad();
        int step = iterEnd - 1;
        int[] rows = _inputs.AllRows();
        Tensor prefixIds = _inputs.Rows(_inputs.Targets.Ids, rows, step);
        Tensor prefixMask = _inputs.Rows(_inputs.Targets.Mask, rows, step);

        // Only the attention weights are read: the language-model head is skipped.
        var options = new ForwardOptions { OutputAttentions = true, LastPositionOnly = true, Head = ForwardOptions.HiddenStatesHead };
        var sequenceScores = new List<SequenceScore>();
        DecoderOutput output;
        if (EncoderDecoder)
        {
            EncodedTexts sources = _inputs.Sources!;
            Tensor sourceIds = _inputs.Rows(sources.Ids, rows, sources.Width);
            Tensor sourceMask = _inputs.Rows(sources.Mask, rows, sources.Width);
            EncoderOutput encoded = _model.Encode(_model.EmbedEncoderTokens(sourceIds), sourceMask, options);
            output = _model.Decode(_model.EmbedDecoderTokens(prefixIds), prefixMask, null, encoded, sourceMask, null, options);
            sequenceScores.Add(EncoderSelfAttentions(torch.stack(encoded.Attentions!, 1).permute(0, 4, 3, 1, 2).contiguous(), sources.Width));
        }
        else
        {
            output = _model.Decode(_model.EmbedDecoderTokens(prefixIds), prefixMask, null, null, null, null, options);
        }

        // [batch, layers, heads, queries, keys] → [batch, keys, queries, layers, heads]
        Tensor self = torch.stack(output.Attentions!, 1).permute(0, 4, 3, 1, 2).contiguous();

        // Inseq marks decoder self-attention weights that are exactly zero (masked keys) as NaN.
        using (Scalar zero = 0.ToScalar())
        using (Scalar nan = float.NaN.ToScalar())
        {
            self = self.masked_fill(self.eq(zero), nan);
        }

        Tensor? cross = output.CrossAttentions is null ? null : torch.stack(output.CrossAttentions, 1).permute(0, 4, 3, 1, 2).contiguous();
        int[] innerShape = [(int)self.shape[3], (int)self.shape[4]];
        if (EncoderDecoder && !_attributeTarget)
        {
            // Without attribute_target Inseq keeps the decoder self-attention as a sequence score.
            sequenceScores.Add(DecoderSelfAttentions(self, step, innerShape));
        }

        var records = new List<StepRecord>();
        for (int pos = start; pos < iterEnd; pos++)
        {
            var record = new StepRecord { Position = pos, Rows = rows };
            if (cross is not null)
            {
                record.Source = HostRows.Split(cross.select(2, pos - 1));
            }

            if (!EncoderDecoder || _attributeTarget)
            {
                record.Target = HostRows.Split(self.select(2, pos - 1).narrow(1, 0, pos));
            }

            records.Add(record);
        }

        return new StepExecutionResult(records, innerShape, sequenceScores);
    }

    /// <summary>
    /// <c>encoder_self_attentions</c>: [source keys, source queries, encoder layers, encoder heads] without padding,
    /// from <paramref name="encoderSelf"/> [batch, keys, queries, layers, heads]. The encoder may have other layer
    /// and head counts than the decoder (distilled checkpoints).
    /// </summary>
    private static SequenceScore EncoderSelfAttentions(Tensor encoderSelf, int sourceWidth)
    {
        int[] encoderInnerShape = [(int)encoderSelf.shape[3], (int)encoderSelf.shape[4]];
        int encoderInner = encoderInnerShape[0] * encoderInnerShape[1];
        float[][] attentions = HostRows.Split(encoderSelf);
        NdArray Build(int b, int s, int n)
        {
            var data = new float[s * s * encoderInner];
            float[] full = attentions[b];
            for (int k = 0; k < s; k++)
            {
                Array.Copy(full, k * sourceWidth * encoderInner, data, k * s * encoderInner, s * encoderInner);
            }

            return new NdArray(data, [s, s, .. encoderInnerShape]);
        }

        return new SequenceScore("encoder_self_attentions", Build);
    }

    /// <summary>
    /// <c>decoder_self_attentions</c>: Inseq stacks the final forward's [keys, queries] weights once per step (at
    /// dimension 1) and keeps the first n keys and steps (n = attributed steps): [min(keys, n), n, queries, layers, heads].
    /// </summary>
    private static SequenceScore DecoderSelfAttentions(Tensor self, int prefixWidth, int[] innerShape)
    {
        int inner = innerShape[0] * innerShape[1];
        float[][] attentions = HostRows.Split(self);
        NdArray Build(int b, int s, int n)
        {
            int keys = Math.Min(prefixWidth, n), queries = prefixWidth;
            float[] full = attentions[b];
            var data = new float[keys * n * queries * inner];
            for (int k = 0; k < keys; k++)
            {
                for (int j = 0; j < n; j++)
                {
                    Array.Copy(full, k * queries * inner, data, ((k * n) + j) * queries * inner, queries * inner);
                }
            }

            return new NdArray(data, [keys, n, queries, .. innerShape]);
        }

        return new SequenceScore("decoder_self_attentions", Build);
    }
}
