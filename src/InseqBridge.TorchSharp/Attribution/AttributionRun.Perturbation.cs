using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.TorchSharp.Attribution.Methods;
using InseqBridge.TorchSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.TorchSharp.Attribution;

/// <summary>The parts of the run specific to perturbation and internals methods (value zeroing, ReAGent).</summary>
internal sealed partial class AttributionRun
{
    /// <summary>Seeded generator of the stochastic methods, shared by every batch of one attribute call.</summary>
    private readonly Generator? _random;

    /// <summary>Extra sequence scores: name and builder (sequence index, source length, step count) → tensor.</summary>
    private readonly List<(string Name, Func<int, int, int, NdArray> Build)> _sequenceScores = [];

    /// <summary>
    /// Value zeroing as a final-step method: one clean forward of the longest prefix with hidden states, the scores of
    /// each attention site, then each step takes the column of its position (as Inseq slices a final-step output).
    /// </summary>
    private int[] RunValueZeroing(ValueZeroing method, int start, int iterEnd, List<StepRecord> records)
    {
        using var noGrad = torch.no_grad();
        int step = iterEnd - 1;
        int[] rows = Enumerable.Range(0, _targets.Count).ToArray();
        Tensor prefixIds = Rows(_targets.Ids, rows, step);
        Tensor prefixMask = Rows(_targets.Mask, rows, step);
        Tensor prefixEmbeds = _model.EmbedDecoderTokens(prefixIds);
        var hiddenStates = new ForwardOptions { OutputHiddenStates = true };
        Tensor? decoderScores = null, crossScores = null, encoderScores = null;
        if (EncoderDecoder)
        {
            Tensor sourceIds = Rows(_sources!.Ids, rows, _sources.Width);
            Tensor sourceMask = Rows(_sources.Mask, rows, _sources.Width);
            Tensor sourceEmbeds = _model.EmbedEncoderTokens(sourceIds);
            EncoderOutput encoded = _model.Encode(sourceEmbeds, sourceMask, hiddenStates);
            DecoderOutput decoded = _model.Decode(prefixEmbeds, prefixMask, null, encoded, sourceMask, null, hiddenStates);
            IReadOnlyList<Tensor> DecoderForward(ForwardOptions options, int repeat) =>
                _model.Decode(
                    Tile(prefixEmbeds, repeat), Tile(prefixMask, repeat), null, new EncoderOutput(Tile(encoded.LastHiddenState, repeat), null, null),
                    Tile(sourceMask, repeat), null, options).HiddenStates!;
            IReadOnlyList<Tensor> EncoderForward(ForwardOptions options, int repeat) =>
                _model.Encode(Tile(sourceEmbeds, repeat), Tile(sourceMask, repeat), options).HiddenStates!;

            if (method.OutputDecoderSelfScores || _request.AttributeTarget)
            {
                decoderScores = ValueZeroingAttributor.Scores(DecoderForward, decoded.HiddenStates!, AttentionSite.DecoderSelf, step, method.DecoderZeroedUnits, causal: true);
            }

            if (method.OutputEncoderSelfScores)
            {
                encoderScores = ValueZeroingAttributor.Scores(EncoderForward, encoded.HiddenStates!, AttentionSite.EncoderSelf, _sources.Width, method.EncoderZeroedUnits, causal: false);
            }

            crossScores = ValueZeroingAttributor.Scores(DecoderForward, decoded.HiddenStates!, AttentionSite.Cross, _sources.Width, method.CrossZeroedUnits, causal: false);
        }
        else
        {
            DecoderOutput decoded = _model.Decode(prefixEmbeds, prefixMask, null, null, null, null, hiddenStates);
            IReadOnlyList<Tensor> DecoderForward(ForwardOptions options, int repeat) =>
                _model.Decode(Tile(prefixEmbeds, repeat), Tile(prefixMask, repeat), null, null, null, null, options).HiddenStates!;
            decoderScores = ValueZeroingAttributor.Scores(DecoderForward, decoded.HiddenStates!, AttentionSite.DecoderSelf, step, method.DecoderZeroedUnits, causal: true);
        }

        // Scores are [batch, zeroed tokens, positions, layers]; step pos reads position pos - 1.
        int layers = (int)(crossScores ?? decoderScores)!.shape[3];
        bool targetSide = !EncoderDecoder || _request.AttributeTarget;
        for (int pos = start; pos < iterEnd; pos++)
        {
            var record = new StepRecord { Position = pos, Rows = rows };
            if (crossScores is not null)
            {
                record.Source = SplitRows(crossScores.select(2, pos - 1));
            }

            if (targetSide)
            {
                record.Target = SplitRows(decoderScores!.select(2, pos - 1).narrow(1, 0, pos));
            }

            records.Add(record);
        }

        if (encoderScores is not null)
        {
            float[][] encoder = SplitRows(encoderScores);
            int width = _sources!.Width;

            // The encoder's own layer count (distilled checkpoints have fewer encoder or decoder layers).
            int encoderLayers = (int)encoderScores.shape[3];
            NdArray EncoderSelfScores(int b, int s, int n)
            {
                // [zeroed source token, source position, encoder layers] without padding.
                var data = new float[s * s * encoderLayers];
                for (int a = 0; a < s; a++)
                {
                    Array.Copy(encoder[b], a * width * encoderLayers, data, a * s * encoderLayers, s * encoderLayers);
                }

                return new NdArray(data, [s, s, encoderLayers]);
            }

            _sequenceScores.Add(("encoder_self_scores", EncoderSelfScores));
        }

        if (EncoderDecoder && !_request.AttributeTarget && decoderScores is not null)
        {
            // Inseq stacks the same [zeroed, positions, layers] tensor once per step (dimension 1), then keeps as many
            // zeroed tokens and steps as the sequence has steps.
            float[][] decoder = SplitRows(decoderScores);
            int prefix = step;
            NdArray DecoderSelfScores(int b, int s, int n)
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

            _sequenceScores.Add(("decoder_self_scores", DecoderSelfScores));
        }

        return [layers];
    }

    /// <summary>ReAGent for one step of a single sequence: importance of the probed ids, repeated over the hidden size.</summary>
    private Tensor[] ReagentStep(Reagent method, Tensor? sourceIds, Tensor prefixIds, Tensor targetIds, bool attributeTarget, IReadOnlyList<Tensor> inputs)
    {
        if (prefixIds.shape[0] != 1)
        {
            throw new InvalidOperationException("reagent attributes one sequence at a time.");
        }

        Tensor LastLogits(Tensor? source, Tensor target)
        {
            if (EncoderDecoder)
            {
                EncoderOutput encoded = _model.Encode(_model.EmbedEncoderTokens(source!), null, ForwardOptions.None);
                return _model.Decode(_model.EmbedDecoderTokens(target), null, null, encoded, null, null, ForwardOptions.None).Logits.select(1, -1);
            }

            return _model.Decode(_model.EmbedDecoderTokens(target), null, null, null, null, null, ForwardOptions.None).Logits.select(1, -1);
        }

        long vocabulary = _model.EmbeddingMatrix.shape[0];
        using TokenSampler sampler = method.PosTagMap is string map ? TokenSampler.FromFile(map, vocabulary) : TokenSampler.Uniform(vocabulary);
        long target = targetIds[0].item<long>();
        Tensor importance = ReagentAttributor.Importance(
            LastLogits, sourceIds, prefixIds, target, probeTarget: !EncoderDecoder || attributeTarget, method, sampler, _random!);
        long hidden = inputs[0].shape[2];
        Tensor Spread(Tensor scores) => scores.to(ScalarType.Float32).view(1, -1, 1).expand(1, scores.shape[0], hidden).contiguous();
        if (!EncoderDecoder)
        {
            return [Spread(importance)];
        }

        long sourceLength = sourceIds!.shape[1];
        return attributeTarget
            ? [Spread(importance.narrow(0, 0, sourceLength)), Spread(importance.narrow(0, sourceLength, importance.shape[0] - sourceLength))]
            : [Spread(importance)];
    }
}
