using System.Text.Json.Nodes;
using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Errors;
using InseqBridge.Native.Attribution.Methods;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution;

/// <summary>
/// Attributes one batch: checks the positions, aligns contrastive targets, runs the execution path of the method
/// and mode (<see cref="IStepExecution"/>), and assembles Inseq's output from the step records
/// (<see cref="AttributionOutputAssembler"/>).
/// </summary>
internal sealed class AttributionRun
{
    private readonly NativeAttributionModel _owner;
    private readonly AttributionMethod _method;
    private readonly AttributionRequest _request;
    private readonly EncodedTexts? _sources;
    private readonly EncodedTexts _targets;
    private readonly ContrastInputs? _contrast;
    private readonly AttributionCallState _state;

    /// <summary>Seeded generator of the stochastic methods, shared by every batch of one attribute call.</summary>
    private readonly Generator? _random;

    private IReadOnlyList<AlignmentPair>[]? _contrastPairs;

    public AttributionRun(
        NativeAttributionModel owner, AttributionMethod method, AttributionRequest request,
        EncodedTexts? sources, EncodedTexts targets, ContrastInputs? contrast = null, AttributionCallState? state = null, Generator? random = null)
    {
        _contrast = contrast;
        _state = state ?? new AttributionCallState(request.Generation.Seed);
        _random = random;
        _owner = owner;
        _method = method;
        _request = request;
        _sources = sources;
        _targets = targets;
    }

    /// <summary>The adjusted contrastive alignments per row (after <see cref="Run"/>; null without contrast targets).</summary>
    public IReadOnlyList<IReadOnlyList<AlignmentPair>>? ContrastPairs => _contrastPairs;

    private bool EncoderDecoder => _owner.Model.IsEncoderDecoder;

    public FeatureAttributionOutput Run(int attrPosStart, int? requestedEnd, IProgress<int>? stepDone, CancellationToken cancellationToken)
    {
        int length = _targets.Width;
        var (start, end) = CheckPositions(length, attrPosStart, requestedEnd);
        PrepareContrast(start, end);
        int iterEnd = EncoderDecoder ? Math.Min(end + 1, length) : end;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        StepExecutionResult result;
        using (torch.NewDisposeScope())
        {
            var inputs = new StepInputBuilder(_owner.Model, _owner.PadId, _sources, _targets, _contrast, _contrastPairs);
            result = SelectExecution(inputs, start).Execute(start, iterEnd, stepDone, cancellationToken);
        }

        watch.Stop();
        var assembler = new AttributionOutputAssembler(new OutputAssemblyInputs
        {
            Targets = _targets,
            Sources = _sources,
            EncoderDecoder = EncoderDecoder,
            PadToken = _owner.PadToken,
            ContrastTokens = _contrastPairs is null ? null : _contrast!.TargetTokens,
            ContrastPairs = _contrastPairs,
            StepScoreIds = _request.StepScores.Select(f => f.Id).ToList(),
            Kind = OutputKind,
            NumDimensions = NumDimensions,
            OutputStepAttributions = _request.OutputStepAttributions,
        });
        return assembler.Assemble(result, end, Info(start, end, watch.Elapsed));
    }

    /// <summary>The execution path of this method and mode.</summary>
    private IStepExecution SelectExecution(StepInputBuilder inputs, int start)
    {
        if (_method is ValueZeroing valueZeroing)
        {
            return new ValueZeroingExecution(_owner.Model, valueZeroing, _request.AttributeTarget, inputs);
        }

        if (_method.IsFinalStepMethod)
        {
            return new FinalStepExecution(_owner.Model, _request.AttributeTarget, inputs);
        }

        if (FastAttributionRun.Supports(_method, _request, _contrast is not null, start))
        {
            return new FastAttributionRun(_owner, _method, _request, _sources, _targets);
        }

        return new PerStepExecution(_owner, _method, _request, inputs, _contrast, _state, _random);
    }

    /// <summary>Inseq's output class of this method.</summary>
    private AttributionKind OutputKind => _method switch
    {
        AttentionWeights or ValueZeroing => AttributionKind.MultiDimensional,
        Occlusion => AttributionKind.Coarse,
        DummyAttribution => AttributionKind.Base,
        _ => AttributionKind.Granular,
    };

    /// <summary>The attribution dimensions Inseq records for multi-dimensional methods.</summary>
    private int? NumDimensions => _method switch
    {
        AttentionWeights => 2,
        ValueZeroing => 1,
        _ => null,
    };

    private JsonObject Info(int start, int end, TimeSpan elapsed)
    {
        var info = _owner.BaseInfo();
        info["attribution_method"] = _method.Id;
        info["attr_pos_start"] = start;
        info["attr_pos_end"] = end;
        info["output_step_attributions"] = _request.OutputStepAttributions;
        info["attribute_target"] = _request.AttributeTarget;
        info["step_scores"] = new JsonArray(_request.StepScores.Select(s => (JsonNode?)s.Id).ToArray());
        info["exec_time"] = elapsed.TotalSeconds;
        return info;
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
}
