using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Errors;
using InseqBridge.TorchSharp.Attribution.Methods;
using InseqBridge.TorchSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.TorchSharp.Attribution;

/// <summary>
/// Attributes one batch with Inseq's per-step procedure: for each target position, the prefix before it is run
/// through the model and the attributed function of the target token is explained; finished sequences are left
/// out of each step; results are stitched per sequence with Inseq's padding, NaN and position conventions.
/// </summary>
internal sealed partial class AttributionRun
{
    private readonly NativeAttributionModel _owner;
    private readonly TransformerLanguageModel _model;
    private readonly AttributionMethod _method;
    private readonly AttributionRequest _request;
    private readonly StepFunction _attributedFn;
    private readonly EncodedTexts? _sources;
    private readonly EncodedTexts _targets;

    public AttributionRun(
        NativeAttributionModel owner, AttributionMethod method, AttributionRequest request,
        EncodedTexts? sources, EncodedTexts targets, Generator? random = null)
    {
        _random = random;
        _owner = owner;
        _model = owner.Model;
        _method = method;
        _request = request;
        _attributedFn = request.AttributedFunction ?? StepFunction.Default;
        _sources = sources;
        _targets = targets;
    }

    private float[][]? _encoderSelfAttentions;
    private int _sourceWidth;

    private bool EncoderDecoder => _model.IsEncoderDecoder;

    private sealed class StepRecord
    {
        public required int Position { get; init; }

        public required int[] Rows { get; init; }

        public float[][]? Source { get; set; }

        public float[][]? Target { get; set; }

        public Dictionary<string, float[]> Scores { get; } = [];
    }

    public FeatureAttributionOutput Run(int attrPosStart, int? requestedEnd, IProgress<int>? stepDone, CancellationToken cancellationToken)
    {
        int length = _targets.Width;
        var (start, end) = CheckPositions(length, attrPosStart, requestedEnd);
        int iterEnd = EncoderDecoder ? Math.Min(end + 1, length) : end;
        var records = new List<StepRecord>();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        int[]? innerShape = null;
        using (torch.NewDisposeScope())
        {
            if (_method is ValueZeroing valueZeroing)
            {
                innerShape = RunValueZeroing(valueZeroing, start, iterEnd, records);
            }
            else if (_method.IsFinalStepMethod)
            {
                innerShape = RunFinalStep(start, iterEnd, records);
            }
            else
            {
                for (int step = start; step < iterEnd; step++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    using var stepScope = torch.NewDisposeScope();
                    int[] active = Enumerable.Range(0, _targets.Count).Where(b => _targets.Mask[b][step] == 1).ToArray();
                    var record = new StepRecord { Position = step, Rows = active };
                    if (active.Length > 0)
                    {
                        innerShape = AttributeStep(step, record) ?? innerShape;
                    }

                    records.Add(record);
                    stepDone?.Report(1);
                }
            }
        }

        watch.Stop();
        var sequences = BuildSequences(records, end, innerShape);
        var info = _owner.BaseInfo();
        info["attribution_method"] = _method.Id;
        info["attr_pos_start"] = start;
        info["attr_pos_end"] = end;
        info["output_step_attributions"] = false;
        info["attribute_target"] = _request.AttributeTarget;
        info["step_scores"] = new System.Text.Json.Nodes.JsonArray(_request.StepScores.Select(s => (System.Text.Json.Nodes.JsonNode?)s.Id).ToArray());
        info["exec_time"] = watch.Elapsed.TotalSeconds;
        return new FeatureAttributionOutput { SequenceAttributions = sequences, Info = info };
    }

    /// <summary>Inseq's check_attribute_positions.</summary>
    private static (int Start, int End) CheckPositions(int maxLength, int start, int? end)
    {
        int e = end is null || end > maxLength ? maxLength : end.Value;
        if (start < -maxLength || e < -maxLength)
        {
            throw new InvalidRequestException($"Attribution positions {start}..{end} are out of range for a target of {maxLength} tokens.");
        }

        if (start < 0)
        {
            start += maxLength;
        }

        if (e < 0)
        {
            e += maxLength;
        }

        if (start > e)
        {
            throw new InvalidRequestException($"attr_pos_start ({start}) is after attr_pos_end ({e}) for a target of {maxLength} tokens.");
        }

        if (start == e)
        {
            throw new InvalidRequestException($"attr_pos_start and attr_pos_end are both {start}: nothing to attribute.");
        }

        return (start, e);
    }

    private Tensor Rows(long[][] data, int[] rows, int width)
    {
        var flat = new long[rows.Length * width];
        for (int r = 0; r < rows.Length; r++)
        {
            Array.Copy(data[rows[r]], 0, flat, r * width, width);
        }

        return torch.tensor(flat, [rows.Length, width], device: _model.Device);
    }

    private static Tensor Tile(Tensor t, int repeat) => repeat == 1 ? t : torch.cat(Enumerable.Repeat(t, repeat).ToArray(), 0);

    /// <summary>Runs one step; returns the trailing shape of the attribution tensors.</summary>
    private int[]? AttributeStep(int step, StepRecord record)
    {
        int[] rows = record.Rows;
        Tensor targetIds = torch.tensor(rows.Select(b => _targets.Ids[b][step]).ToArray(), device: _model.Device);
        Tensor prefixIds = Rows(_targets.Ids, rows, step);
        Tensor prefixMask = Rows(_targets.Mask, rows, step);
        Tensor prefixEmbeds = _model.EmbedDecoderTokens(prefixIds);
        Tensor? sourceIds = null, sourceMask = null, sourceEmbeds = null;
        if (EncoderDecoder)
        {
            sourceIds = Rows(_sources!.Ids, rows, _sources.Width);
            sourceMask = Rows(_sources.Mask, rows, _sources.Width);
            sourceEmbeds = _model.EmbedEncoderTokens(sourceIds);
        }

        Tensor Logits(Tensor? src, Tensor tgt, int repeat)
        {
            if (EncoderDecoder)
            {
                Tensor srcMask = Tile(sourceMask!, repeat);
                EncoderOutput encoded = _model.Encode(src!, srcMask, ForwardOptions.None);
                return _model.Decode(tgt, Tile(prefixMask, repeat), null, encoded, srcMask, null, ForwardOptions.None).Logits.select(1, -1);
            }

            return _model.Decode(tgt, Tile(prefixMask, repeat), null, null, null, null, ForwardOptions.None).Logits.select(1, -1);
        }

        // Step scores: a separate forward without gradients, as Inseq computes them.
        if (_request.StepScores.Count > 0)
        {
            using var noGrad = torch.no_grad();
            Tensor logits = Logits(sourceEmbeds, prefixEmbeds, 1);
            foreach (StepFunction fn in _request.StepScores)
            {
                Tensor scores = StepFunctionEvaluator.Evaluate(fn, new StepFunctionContext(logits, targetIds));
                record.Scores[fn.Id] = scores.to(ScalarType.Float32).data<float>().ToArray();
            }
        }

        if (_method is DummyAttribution)
        {
            return null;
        }

        bool attributeTarget = !EncoderDecoder || _request.AttributeTarget;
        var inputs = new List<Tensor>();
        if (EncoderDecoder)
        {
            inputs.Add(sourceEmbeds!);
        }

        if (attributeTarget)
        {
            inputs.Add(prefixEmbeds);
        }

        Tensor Forward(IReadOnlyList<Tensor> x, int repeat)
        {
            Tensor src = EncoderDecoder ? x[0] : null!;
            Tensor tgt = attributeTarget ? x[^1] : Tile(prefixEmbeds, repeat);
            Tensor logits = Logits(src, tgt, repeat);
            return StepFunctionEvaluator.Evaluate(_attributedFn, new StepFunctionContext(logits, Tile(targetIds, repeat)));
        }

        Tensor[] attributions = _method switch
        {
            Saliency => GradientAttributor.Saliency(Forward, inputs),
            InputXGradient => GradientAttributor.InputXGradient(Forward, inputs),
            IntegratedGradients ig => GradientAttributor.IntegratedGradients(
                Forward, inputs, Baselines(rows, step, sourceIds is not null, attributeTarget), ig.Method, ig.Steps, ig.InternalBatchSize),
            Occlusion occlusion => OcclusionAttributor.Attribute(Forward, inputs, Baselines(rows, step, sourceIds is not null, attributeTarget), occlusion),
            Lime lime => LimeAttributor.Attribute(Forward, inputs, lime, _random!, lime.MaskToken == "pad" ? _owner.PadId : _owner.UnkId),
            Reagent reagent => ReagentStep(reagent, sourceIds, prefixIds, targetIds, attributeTarget, inputs),
            _ => throw new InvalidRequestException($"Method '{_method.Id}' is not implemented by the native backend."),
        };

        int index = 0;
        if (EncoderDecoder)
        {
            record.Source = SplitRows(attributions[index++]);
        }

        if (attributeTarget)
        {
            record.Target = SplitRows(attributions[index]);
        }

        return _method is Occlusion ? [] : [(int)attributions[0].shape[^1]];
    }

    private List<Tensor> Baselines(int[] rows, int step, bool withSource, bool withTarget)
    {
        var baselines = new List<Tensor>();
        if (withSource)
        {
            baselines.Add(_model.EmbedEncoderTokens(Rows(_sources!.Baseline, rows, _sources.Width)));
        }

        if (withTarget)
        {
            baselines.Add(_model.EmbedDecoderTokens(Rows(_targets.Baseline, rows, step)));
        }

        return baselines;
    }

    private static float[][] SplitRows(Tensor t)
    {
        Tensor c = t.detach().to(ScalarType.Float32).cpu().contiguous();
        float[] all = c.data<float>().ToArray();
        int rows = (int)c.shape[0];
        int per = rows == 0 ? 0 : all.Length / rows;
        return Enumerable.Range(0, rows).Select(r => all.AsSpan(r * per, per).ToArray()).ToArray();
    }

    /// <summary>Attention weights: one forward with the full prefix, then each step takes its query row.</summary>
    private int[] RunFinalStep(int start, int iterEnd, List<StepRecord> records)
    {
        using var noGrad = torch.no_grad();
        int step = iterEnd - 1;
        int[] rows = Enumerable.Range(0, _targets.Count).ToArray();
        Tensor prefixIds = Rows(_targets.Ids, rows, step);
        Tensor prefixMask = Rows(_targets.Mask, rows, step);
        var options = new ForwardOptions { OutputAttentions = true };
        DecoderOutput output;
        if (EncoderDecoder)
        {
            Tensor sourceIds = Rows(_sources!.Ids, rows, _sources.Width);
            Tensor sourceMask = Rows(_sources.Mask, rows, _sources.Width);
            EncoderOutput encoded = _model.Encode(_model.EmbedEncoderTokens(sourceIds), sourceMask, options);
            output = _model.Decode(_model.EmbedDecoderTokens(prefixIds), prefixMask, null, encoded, sourceMask, null, options);
            _encoderSelfAttentions = SplitRows(torch.stack(encoded.Attentions!, 1).permute(0, 4, 3, 1, 2).contiguous());
            _sourceWidth = _sources.Width;
        }
        else
        {
            output = _model.Decode(_model.EmbedDecoderTokens(prefixIds), prefixMask, null, null, null, null, options);
        }

        // [batch, layers, heads, queries, keys] → [batch, keys, queries, layers, heads]
        Tensor self = torch.stack(output.Attentions!, 1).permute(0, 4, 3, 1, 2).contiguous();

        // Inseq marks decoder self-attention weights that are exactly zero (masked keys) as NaN.
        self = self.masked_fill(self == 0, float.NaN);
        Tensor? cross = output.CrossAttentions is null ? null : torch.stack(output.CrossAttentions, 1).permute(0, 4, 3, 1, 2).contiguous();
        int layers = (int)self.shape[3], heads = (int)self.shape[4];
        for (int pos = start; pos < iterEnd; pos++)
        {
            var record = new StepRecord { Position = pos, Rows = rows };
            if (cross is not null)
            {
                record.Source = SplitRows(cross.select(2, pos - 1));
            }

            if (!EncoderDecoder || _request.AttributeTarget)
            {
                record.Target = SplitRows(self.select(2, pos - 1).narrow(1, 0, pos));
            }

            records.Add(record);
        }

        return [layers, heads];
    }

    private List<FeatureAttributionSequenceOutput> BuildSequences(List<StepRecord> records, int end, int[]? innerShape)
    {
        string pad = _owner.PadToken;
        int count = _targets.Count;
        int inner = innerShape?.Aggregate(1, (a, b) => a * b) ?? 0;
        bool keepFirst = EncoderDecoder && Enumerable.Range(0, count).All(b => _targets.Tokens[b][0] == pad);
        var tokenized = new List<TokenWithId>[count];
        var stepsOf = new List<(StepRecord Record, int Row)>[count];
        for (int b = 0; b < count; b++)
        {
            var all = _targets.Tokens[b].Select((t, i) => new TokenWithId(t, (int)_targets.Ids[b][i])).ToList();
            tokenized[b] = keepFirst ? [all[0], .. all.Skip(1).Where(t => t.Token != pad)] : all.Where(t => t.Token != pad).ToList();
            stepsOf[b] = records
                .Select(r => (Record: r, Row: Array.IndexOf(r.Rows, b)))
                .Where(x => x.Row >= 0 && _targets.Tokens[b][x.Record.Position] != pad)
                .ToList();
        }

        int[] posStart = Enumerable.Range(0, count).Select(b => Math.Min(tokenized[b].Count, end) - stepsOf[b].Count).ToArray();
        int maxPosStart = posStart.Max();
        var result = new List<FeatureAttributionSequenceOutput>();
        for (int b = 0; b < count; b++)
        {
            int n = stepsOf[b].Count;
            int len = tokenized[b].Count;
            IReadOnlyList<TokenWithId> source = EncoderDecoder
                ? _sources!.Tokens[b].Select((t, i) => new TokenWithId(t, (int)_sources.Ids[b][i])).Where(t => t.Token != pad).ToList()
                : tokenized[b].Take(posStart[b]).ToList();

            NdArray? sourceAttr = null, targetAttr = null;
            int[] trailing = innerShape ?? [];
            if (innerShape is not null && stepsOf[b].Any(s => s.Record.Source is not null))
            {
                int s = source.Count;
                var data = new float[s * n * inner];
                for (int k = 0; k < n; k++)
                {
                    float[] row = stepsOf[b][k].Record.Source![stepsOf[b][k].Row];
                    for (int i = 0; i < s; i++)
                    {
                        Array.Copy(row, i * inner, data, ((i * n) + k) * inner, inner);
                    }
                }

                sourceAttr = new NdArray(data, [s, n, .. trailing]);
            }

            if (innerShape is not null && stepsOf[b].Any(s => s.Record.Target is not null))
            {
                int offset = maxPosStart - posStart[b];

                // Inseq slices the stacked prefix rows to the sequence and, when that falls short, pads one NaN row.
                int stacked = records.Max(r => r.Position);
                int rowCount = Math.Max(0, Math.Min(len, stacked - offset));
                if (rowCount != len)
                {
                    rowCount++;
                }

                var data = new float[rowCount * n * inner];
                Array.Fill(data, float.NaN);
                for (int k = 0; k < n; k++)
                {
                    float[] row = stepsOf[b][k].Record.Target![stepsOf[b][k].Row];
                    int available = row.Length / inner;
                    for (int i = 0; i < rowCount; i++)
                    {
                        int absolute = offset + i;
                        if (absolute < available)
                        {
                            Array.Copy(row, absolute * inner, data, ((i * n) + k) * inner, inner);
                        }
                    }
                }

                targetAttr = new NdArray(data, [rowCount, n, .. trailing]);
            }

            var scores = new Dictionary<string, NdArray>();
            foreach (StepFunction fn in _request.StepScores)
            {
                scores[fn.Id] = new NdArray(stepsOf[b].Select(x => x.Record.Scores[fn.Id][x.Row]).ToArray(), n);
            }

            var sequenceScores = new Dictionary<string, NdArray>();
            if (_encoderSelfAttentions is not null && innerShape is not null)
            {
                // [source keys, source queries, layers, heads] without padding.
                int s = source.Count;
                var data = new float[s * s * inner];
                float[] full = _encoderSelfAttentions[b];
                for (int k = 0; k < s; k++)
                {
                    Array.Copy(full, k * _sourceWidth * inner, data, k * s * inner, s * inner);
                }

                sequenceScores["encoder_self_attentions"] = new NdArray(data, [s, s, .. innerShape]);
            }

            foreach (var (name, build) in _sequenceScores)
            {
                sequenceScores[name] = build(b, source.Count, n);
            }

            result.Add(new FeatureAttributionSequenceOutput
            {
                SequenceScores = sequenceScores,
                Source = source,
                Target = tokenized[b],
                SourceAttributions = sourceAttr,
                TargetAttributions = targetAttr,
                StepScores = scores,
                AttrPosStart = posStart[b],
                AttrPosEnd = Math.Min(end, len),
                Kind = _method switch
                {
                    AttentionWeights or ValueZeroing => AttributionKind.MultiDimensional,
                    Occlusion => AttributionKind.Coarse,
                    DummyAttribution => AttributionKind.Base,
                    _ => AttributionKind.Granular,
                },
                NumDimensions = _method switch
                {
                    AttentionWeights => 2,
                    ValueZeroing => 1,
                    _ => null,
                },
            });
        }

        return result;
    }
}
