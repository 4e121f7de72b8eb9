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
    private readonly ContrastInputs? _contrast;
    private readonly AttributionCallState _state;
    private CancellationToken _cancellation;

    public AttributionRun(
        NativeAttributionModel owner, AttributionMethod method, AttributionRequest request,
        EncodedTexts? sources, EncodedTexts targets, ContrastInputs? contrast = null, AttributionCallState? state = null, Generator? random = null)
    {
        _contrast = contrast;
        _state = state ?? new AttributionCallState(request.Generation.Seed);
        _random = random;
        _owner = owner;
        _model = owner.Model;
        _method = method;
        _request = request;
        _attributedFn = request.AttributedFunction ?? StepFunction.Default;
        _sources = sources;
        _targets = targets;
    }

    /// <summary>Step score key of convergence deltas (Inseq's <c>deltas</c>).</summary>
    internal const string DeltasScore = "deltas";

    private float[][]? _encoderSelfAttentions;
    private int[]? _encoderInnerShape;
    private float[][]? _decoderSelfAttentions;
    private int _prefixWidth;
    private IReadOnlyList<AlignmentPair>[]? _contrastPairs;

    /// <summary>The adjusted contrastive alignments per row (after <see cref="Run"/>; null without contrast targets).</summary>
    public IReadOnlyList<IReadOnlyList<AlignmentPair>>? ContrastPairs => _contrastPairs;
    private int _sourceWidth;

    private bool EncoderDecoder => _model.IsEncoderDecoder;

    /// <summary>The results of one target position: attributions and scores per active row.</summary>
    internal sealed class StepRecord
    {
        public required int Position { get; init; }

        public required int[] Rows { get; init; }

        public float[][]? Source { get; set; }

        public float[][]? Target { get; set; }

        public Dictionary<string, float[]> Scores { get; } = [];
    }

    public FeatureAttributionOutput Run(int attrPosStart, int? requestedEnd, IProgress<int>? stepDone, CancellationToken cancellationToken)
    {
        _cancellation = cancellationToken;
        int length = _targets.Width;
        var (start, end) = CheckPositions(length, attrPosStart, requestedEnd);
        PrepareContrast(start, end);
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
            else if (FastAttributionRun.Supports(_method, _request, _contrast is not null, start))
            {
                innerShape = new FastAttributionRun(_owner, _method, _request, _sources, _targets).Run(start, iterEnd, records, stepDone, cancellationToken);
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
        info["output_step_attributions"] = _request.OutputStepAttributions;
        info["attribute_target"] = _request.AttributeTarget;
        info["step_scores"] = new System.Text.Json.Nodes.JsonArray(_request.StepScores.Select(s => (System.Text.Json.Nodes.JsonNode?)s.Id).ToArray());
        info["exec_time"] = watch.Elapsed.TotalSeconds;
        return new FeatureAttributionOutput
        {
            SequenceAttributions = sequences,
            Info = info,
            StepAttributions = _request.OutputStepAttributions ? BuildSteps(records, innerShape) : null,
        };
    }

    /// <summary>Inseq's output class of this method.</summary>
    private AttributionKind OutputKind => _method switch
    {
        AttentionWeights or ValueZeroing => AttributionKind.MultiDimensional,
        Occlusion => AttributionKind.Coarse,
        DummyAttribution => AttributionKind.Base,
        _ => AttributionKind.Granular,
    };

    /// <summary>
    /// The per-step outputs (output_step_attributions): every batch row, rows that had finished at a step filled with
    /// NaN as Inseq's remap_from_filtered does; tokens with padding. Sequence scores are kept on the sequences only.
    /// </summary>
    private List<FeatureAttributionStepOutput> BuildSteps(List<StepRecord> records, int[]? innerShape)
    {
        int count = _targets.Count;
        int inner = innerShape?.Aggregate(1, (a, b) => a * b) ?? 0;
        IReadOnlyList<TokenWithId> Tokens(long[] ids, string[] tokens, int length) =>
            Enumerable.Range(0, length).Select(i => new TokenWithId(tokens[i], (int)ids[i])).ToList();
        NdArray? Pack(StepRecord record, float[][]? rows)
        {
            if (rows is null || innerShape is null || inner == 0)
            {
                return null;
            }

            int positions = rows.Max(r => r.Length) / inner;
            var data = new float[count * positions * inner];
            Array.Fill(data, float.NaN);
            for (int k = 0; k < record.Rows.Length; k++)
            {
                Array.Copy(rows[k], 0, data, record.Rows[k] * positions * inner, Math.Min(rows[k].Length, positions * inner));
            }

            return new NdArray(data, [count, positions, .. innerShape]);
        }

        var steps = new List<FeatureAttributionStepOutput>(records.Count);
        foreach (StepRecord record in records)
        {
            int step = record.Position;
            var scores = new Dictionary<string, NdArray>();
            IEnumerable<string> ids = record.Scores.ContainsKey(DeltasScore) ? [DeltasScore] : [];
            foreach (string id in ids.Concat(_request.StepScores.Select(f => f.Id)).Where(record.Scores.ContainsKey))
            {
                var values = new float[count];
                Array.Fill(values, float.NaN);
                for (int k = 0; k < record.Rows.Length; k++)
                {
                    values[record.Rows[k]] = record.Scores[id][k];
                }

                scores[id] = new NdArray(values, count);
            }

            steps.Add(new FeatureAttributionStepOutput
            {
                Source = _sources is null ? null : Enumerable.Range(0, count).Select(b => Tokens(_sources.Ids[b], _sources.Tokens[b], _sources.Width)).ToList(),
                Prefix = Enumerable.Range(0, count).Select(b => Tokens(_targets.Ids[b], _targets.Tokens[b], step)).ToList(),
                Target = Enumerable.Range(0, count).Select(b => (IReadOnlyList<TokenWithId>)[new TokenWithId(_targets.Tokens[b][step], (int)_targets.Ids[b][step])]).ToList(),
                SourceAttributions = Pack(record, record.Source),
                TargetAttributions = Pack(record, record.Target),
                StepScores = scores,
                Kind = OutputKind,
            });
        }

        return steps;
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

    private void PrepareContrast(int start, int end)
    {
        if (_contrast?.TargetIds is not long[][] contrastIds)
        {
            return;
        }

        // Inseq aligns every row of a batch over the batch's positions (and then uses the first row's pairs for all);
        // here each row is aligned over its own tokens, which equals Inseq on a single row and keeps batched results
        // equal to one-by-one results.
        _contrastPairs = new IReadOnlyList<AlignmentPair>[_targets.Count];
        for (int b = 0; b < _targets.Count; b++)
        {
            int rowEnd = Math.Min(end, Array.LastIndexOf(_targets.Mask[b], 1L) + 1);
            IReadOnlyList<AlignmentPair>? requested = _contrast.Alignments is { IsAuto: true }
                ? ContrastAlignment.Auto(_targets.Tokens[b], _contrast.TargetTokens![b], start, rowEnd)
                : _contrast.Alignments?.For(_contrast.InputIndex[b]);
            _contrastPairs[b] = ContrastAlignment.Adjust(requested, contrastIds[b].Length, start, rowEnd);
        }
    }

    /// <summary>The contrastive inputs of one step: aligned contrast targets, and prefixes/sources where they differ.</summary>
    private sealed record ContrastStep(Tensor TargetIds, Tensor? PrefixIds, Tensor? PrefixMask, Tensor? LastIndex, Tensor? SourceIds, Tensor? SourceMask);

    private ContrastStep? BuildContrastStep(int step, int[] rows)
    {
        if (_contrast is null)
        {
            return null;
        }

        var targetIds = new long[rows.Length];
        var prefixes = new long[rows.Length][];
        bool prefixDiffers = false;
        for (int r = 0; r < rows.Length; r++)
        {
            int b = rows[r];
            long[] original = _targets.Ids[b];
            if (_contrast.TargetIds is long[][] contrastIds)
            {
                long[] ids = contrastIds[b];
                int index = ContrastAlignment.AlignedIndex(step, _contrastPairs![b]);
                index = index < 0 ? ids.Length - 1 : index;
                if (index <= 0)
                {
                    throw new InvalidRequestException(
                        $"Contrast target {_contrast.InputIndex[b]} aligns target position {step} to its first token, which leaves no prefix to predict it from.");
                }

                targetIds[r] = ids[index];
                prefixes[r] = ids[..index];
                prefixDiffers |= !prefixes[r].AsSpan().SequenceEqual(original.AsSpan(0, step));
            }
            else
            {
                targetIds[r] = original[step];
                prefixes[r] = original[..step];
            }
        }

        Tensor? prefixIds = null, prefixMask = null, lastIndex = null;
        if (prefixDiffers)
        {
            // Right padding keeps each row's positions as if it ran alone; the logits are read at its last token.
            int width = prefixes.Max(p => p.Length);
            var ids = new long[rows.Length * width];
            var mask = new long[rows.Length * width];
            Array.Fill(ids, _owner.PadId);
            for (int r = 0; r < rows.Length; r++)
            {
                Array.Copy(prefixes[r], 0, ids, r * width, prefixes[r].Length);
                Array.Fill(mask, 1L, r * width, prefixes[r].Length);
            }

            prefixIds = torch.tensor(ids, [rows.Length, width], device: _model.Device);
            prefixMask = torch.tensor(mask, [rows.Length, width], device: _model.Device);
            lastIndex = torch.tensor(prefixes.Select(p => (long)p.Length - 1).ToArray(), device: _model.Device);
        }

        Tensor? sourceIds = null, sourceMask = null;
        if (_contrast.Sources is EncodedTexts contrastSources
            && (contrastSources.Width != _sources!.Width || rows.Any(b => !contrastSources.Ids[b].AsSpan().SequenceEqual(_sources.Ids[b]))))
        {
            sourceIds = Rows(contrastSources.Ids, rows, contrastSources.Width);
            sourceMask = Rows(contrastSources.Mask, rows, contrastSources.Width);
        }

        return new ContrastStep(torch.tensor(targetIds, device: _model.Device), prefixIds, prefixMask, lastIndex, sourceIds, sourceMask);
    }

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

        Tensor rowIndex = torch.arange(logits.shape[0], device: logits.device);
        return logits.index([TensorIndex.Tensor(rowIndex), TensorIndex.Tensor(lastIndex)]);
    }

    private Tensor Rows(long[][] data, IReadOnlyList<int> rows, int width) => EncodedTexts.Rows(data, rows, width, _model.Device);

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

        Tensor Logits(Tensor? src, Tensor tgt, int repeat, ForwardOptions? options = null) =>
            NextTokenLogits(src, EncoderDecoder ? Tile(sourceMask!, repeat) : null, tgt, Tile(prefixMask, repeat), null, options);

        ContrastStep? contrast = BuildContrastStep(step, rows);

        // Contrastive forward (Inseq's _get_contrast_inputs): encoder-decoders run on embeddings, so the attributed
        // source (and target prefix) tensors carry gradients where the contrast keeps them; decoder-only models run
        // on token ids.
        Tensor ContrastLogits(Tensor? src, Tensor tgt, int repeat)
        {
            Tensor? encoderInput = null, encoderMask = null;
            if (EncoderDecoder)
            {
                (encoderInput, encoderMask) = contrast!.SourceIds is Tensor ids
                    ? (Tile(_model.EmbedEncoderTokens(ids), repeat), Tile(contrast.SourceMask!, repeat))
                    : (src, Tile(sourceMask!, repeat));
            }

            if (contrast!.PrefixIds is Tensor prefix)
            {
                return NextTokenLogits(encoderInput, encoderMask, Tile(_model.EmbedDecoderTokens(prefix), repeat), Tile(contrast.PrefixMask!, repeat), Tile(contrast.LastIndex!, repeat));
            }

            Tensor decoderInput = EncoderDecoder ? tgt : Tile(_model.EmbedDecoderTokens(prefixIds), repeat);
            return NextTokenLogits(encoderInput, encoderMask, decoderInput, Tile(prefixMask, repeat), null);
        }

        // Monte Carlo dropout forward (mc_dropout_prob_avg), as Inseq's convert_args_to_batch: embeddings for
        // encoder-decoders (gradients flow), token ids for decoder-only models. Masks come from the call's seeded
        // generator; only this forward runs in training mode (Inseq leaves the model in train mode afterwards).
        Tensor NoisyLogits(Tensor? src, Tensor tgt, int repeat) =>
            Logits(src, EncoderDecoder ? tgt : Tile(_model.EmbedDecoderTokens(prefixIds), repeat), repeat, new ForwardOptions { Dropout = _state.Torch });

        StepFunctionContext Context(Tensor logits, Tensor? src, Tensor tgt, int repeat, bool attributed)
        {
            var context = new StepFunctionContext(logits, Tile(targetIds, repeat))
            {
                IsAttributedFunction = attributed,
                NoisyLogits = () => NoisyLogits(src, tgt, repeat),
            };
            if (contrast is null)
            {
                return context;
            }

            Tensor? cached = null;
            return context with
            {
                ContrastTargetIds = Tile(contrast.TargetIds, repeat),
                // Evaluated inside a step function's dispose scope; the cached logits must outlive it.
                ContrastLogits = () => cached ??= ContrastLogits(src, tgt, repeat).MoveToOuterDisposeScope(),
                ForceContrastInputs = _contrast!.ForceInputs,
            };
        }

        // Step scores: a separate forward without gradients, as Inseq computes them.
        if (_request.StepScores.Count > 0)
        {
            using var noGrad = torch.no_grad();
            Tensor logits = Logits(sourceEmbeds, prefixEmbeds, 1);
            StepFunctionContext context = Context(logits, sourceEmbeds, prefixEmbeds, 1, attributed: false);
            foreach (StepFunction fn in _request.StepScores)
            {
                Tensor scores = StepFunctionEvaluator.Evaluate(fn, context);
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

        Tensor Forward(IReadOnlyList<Tensor> x, int repeat) => ForwardWith(x, repeat, ForwardOptions.None);

        Tensor ForwardWith(IReadOnlyList<Tensor> x, int repeat, ForwardOptions options)
        {
            Tensor src = EncoderDecoder ? x[0] : null!;
            Tensor tgt = attributeTarget ? x[^1] : Tile(prefixEmbeds, repeat);
            Tensor logits = Logits(src, tgt, repeat, options);
            return StepFunctionEvaluator.Evaluate(_attributedFn, Context(logits, src, tgt, repeat, attributed: true));
        }

        List<Tensor>? baselines = _method is IntegratedGradients ? Baselines(rows, step, sourceIds is not null, attributeTarget) : null;
        Tensor[] attributions = _method switch
        {
            // Saliency, input x gradient, integrated gradients, the rest of the gradient family and user methods:
            // the native code attached to the method's id (NativeAttributionMethods).
            _ when GradientMethodDispatcher.Handles(_method) => GradientMethodDispatcher.Attribute(_method, new GradientStepContext
            {
                Model = _model,
                Inputs = inputs,
                Ids = [.. EncoderDecoder ? [sourceIds!] : Array.Empty<Tensor>(), .. attributeTarget ? [prefixIds] : Array.Empty<Tensor>()],
                BaselineIds = [.. EncoderDecoder ? [Rows(_sources!.Baseline, rows, _sources.Width)] : Array.Empty<Tensor>(), .. attributeTarget ? [Rows(_targets.Baseline, rows, step)] : Array.Empty<Tensor>()],
                EncoderSide = [.. EncoderDecoder ? [true] : Array.Empty<bool>(), .. attributeTarget ? [false] : Array.Empty<bool>()],
                Forward = ForwardWith,
                State = _state,
                IsSpecial = _owner.Tokenizer.IsSpecial,
                AttributeTarget = EncoderDecoder && _request.AttributeTarget,
                Cancellation = _cancellation,
            }),
            Occlusion occlusion => OcclusionAttributor.Attribute(Forward, inputs, Baselines(rows, step, sourceIds is not null, attributeTarget), occlusion),
            Lime lime => LimeAttributor.Attribute(Forward, inputs, lime, _random!, lime.MaskToken == "pad" ? _owner.PadId : _owner.UnkId),
            Reagent reagent => ReagentStep(reagent, sourceIds, prefixIds, targetIds, attributeTarget, inputs),
            _ => throw new InvalidRequestException($"Method '{_method.Id}' is not implemented by the native backend."),
        };

        if (_method is IntegratedGradients { ReturnConvergenceDelta: true })
        {
            Tensor deltas = GradientAttributor.ConvergenceDelta(Forward, inputs, baselines!, attributions);
            record.Scores[DeltasScore] = deltas.to(ScalarType.Float32).data<float>().ToArray();
        }

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
        // Only the attention weights are read: the language-model head is skipped.
        var options = new ForwardOptions { OutputAttentions = true, LastPositionOnly = true, Head = ForwardOptions.HiddenStatesHead };
        DecoderOutput output;
        if (EncoderDecoder)
        {
            Tensor sourceIds = Rows(_sources!.Ids, rows, _sources.Width);
            Tensor sourceMask = Rows(_sources.Mask, rows, _sources.Width);
            EncoderOutput encoded = _model.Encode(_model.EmbedEncoderTokens(sourceIds), sourceMask, options);
            output = _model.Decode(_model.EmbedDecoderTokens(prefixIds), prefixMask, null, encoded, sourceMask, null, options);
            Tensor encoderSelf = torch.stack(encoded.Attentions!, 1).permute(0, 4, 3, 1, 2).contiguous();

            // The encoder may have other layer and head counts than the decoder (distilled checkpoints).
            _encoderInnerShape = [(int)encoderSelf.shape[3], (int)encoderSelf.shape[4]];
            _encoderSelfAttentions = SplitRows(encoderSelf);
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
        if (EncoderDecoder && !_request.AttributeTarget)
        {
            // Without attribute_target Inseq keeps the decoder self-attention as a sequence score.
            _decoderSelfAttentions = SplitRows(self);
            _prefixWidth = step;
        }

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
            IReadOnlyList<TokenWithId> all = _targets.Tokens[b].Select((t, i) => new TokenWithId(t, (int)_targets.Ids[b][i])).ToList();
            if (_contrastPairs is not null)
            {
                all = ContrastAlignment.DisplayTokens(all, _contrast!.TargetTokens![b], _contrastPairs[b]);
            }

            string[] originalTokens = _targets.Tokens[b];
            tokenized[b] = Enumerable.Range(0, all.Count).Where(i => (keepFirst && i == 0) || originalTokens[i] != pad).Select(i => all[i]).ToList();
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

            // Inseq starts a step's scores with the method's own (convergence deltas), then adds the requested ones.
            var scores = new Dictionary<string, NdArray>();
            IEnumerable<string> scoreIds = stepsOf[b].Any(x => x.Record.Scores.ContainsKey(DeltasScore)) ? [DeltasScore] : [];
            foreach (string id in scoreIds.Concat(_request.StepScores.Select(fn => fn.Id)))
            {
                scores[id] = new NdArray(stepsOf[b].Select(x => x.Record.Scores[id][x.Row]).ToArray(), n);
            }

            var sequenceScores = new Dictionary<string, NdArray>();
            if (_encoderSelfAttentions is not null && _encoderInnerShape is not null)
            {
                // [source keys, source queries, encoder layers, encoder heads] without padding.
                int s = source.Count;
                int encoderInner = _encoderInnerShape[0] * _encoderInnerShape[1];
                var data = new float[s * s * encoderInner];
                float[] full = _encoderSelfAttentions[b];
                for (int k = 0; k < s; k++)
                {
                    Array.Copy(full, k * _sourceWidth * encoderInner, data, k * s * encoderInner, s * encoderInner);
                }

                sequenceScores["encoder_self_attentions"] = new NdArray(data, [s, s, .. _encoderInnerShape]);
            }

            if (_decoderSelfAttentions is not null && innerShape is not null)
            {
                // Inseq stacks the final forward's [keys, queries] weights once per step (at dimension 1) and keeps
                // the first n keys and steps (n = attributed steps): [min(keys, n), n, queries, layers, heads].
                int keys = Math.Min(_prefixWidth, n), queries = _prefixWidth;
                float[] full = _decoderSelfAttentions[b];
                var data = new float[keys * n * queries * inner];
                for (int k = 0; k < keys; k++)
                {
                    for (int j = 0; j < n; j++)
                    {
                        Array.Copy(full, k * queries * inner, data, ((k * n) + j) * queries * inner, queries * inner);
                    }
                }

                sequenceScores["decoder_self_attentions"] = new NdArray(data, [keys, n, queries, .. innerShape]);
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
                Kind = OutputKind,
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
