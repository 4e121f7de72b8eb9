using InseqBridge.Attribution;
using InseqBridge.Errors;
using InseqBridge.Native.Attribution.Methods;
using InseqBridge.Native.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution;

/// <summary>
/// Inseq's per-step procedure (<see cref="ExecutionMode.Reference"/>): for each target position, the prefix before
/// it is run through the model and the attributed function of the target token is explained; finished sequences
/// are left out of each step. Step scores come from a separate forward without gradients, as Inseq computes them.
/// </summary>
internal sealed class PerStepExecution : IStepExecution
{
    private readonly NativeAttributionModel _owner;
    private readonly TransformerLanguageModel _model;
    private readonly AttributionMethod _method;
    private readonly AttributionRequest _request;
    private readonly StepFunction _attributedFn;
    private readonly StepInputBuilder _inputs;
    private readonly ContrastInputs? _contrast;
    private readonly AttributionCallState _state;

    /// <summary>Seeded generator of the stochastic methods, shared by every batch of one attribute call.</summary>
    private readonly Generator? _random;

    public PerStepExecution(
        NativeAttributionModel owner, AttributionMethod method, AttributionRequest request, StepInputBuilder inputs,
        ContrastInputs? contrast, AttributionCallState state, Generator? random)
    {
        _owner = owner;
        _model = owner.Model;
        _method = method;
        _request = request;
        _attributedFn = request.AttributedFunction ?? StepFunction.Default;
        _inputs = inputs;
        _contrast = contrast;
        _state = state;
        _random = random;
    }

    private bool EncoderDecoder => _model.IsEncoderDecoder;

    /// <inheritdoc/>
    public StepExecutionResult Execute(int start, int iterEnd, IProgress<int>? stepDone, CancellationToken cancellationToken)
    {
        var records = new List<StepRecord>();
        int[]? innerShape = null;
        for (int step = start; step < iterEnd; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var stepScope = torch.NewDisposeScope();
            var record = new StepRecord { Position = step, Rows = _inputs.ActiveRows(step) };
            if (record.Rows.Length > 0)
            {
                innerShape = AttributeStep(step, record, cancellationToken) ?? innerShape;
            }

            records.Add(record);
            stepDone?.Report(1);
        }

        return new StepExecutionResult(records, innerShape, []);
    }

    /// <summary>Runs one step; returns the trailing shape of the attribution tensors.</summary>
    private int[]? AttributeStep(int step, StepRecord record, CancellationToken cancellationToken)
    {
        int[] rows = record.Rows;
        StepInputs inputs = _inputs.For(step, rows);
        bool attributeTarget = !EncoderDecoder || _request.AttributeTarget;
        var forward = new StepForward(
            _model, inputs, _inputs.Contrast(step, rows), _contrast?.ForceInputs ?? false, _state, _attributedFn, attributeTarget);
        if (_request.StepScores.Count > 0)
        {
            ScoreStep(forward, inputs, record);
        }

        if (_method is DummyAttribution)
        {
            return null;
        }

        var attributed = new List<Tensor>();
        if (EncoderDecoder)
        {
            attributed.Add(inputs.SourceEmbeds!);
        }

        if (attributeTarget)
        {
            attributed.Add(inputs.PrefixEmbeds);
        }

        List<Tensor>? baselines = _method is IntegratedGradients ? _inputs.Baselines(rows, step, inputs.SourceIds is not null, attributeTarget) : null;
        Tensor[] attributions = Attribute(step, rows, inputs, forward, attributed, baselines, attributeTarget, cancellationToken);
        if (_method is IntegratedGradients { ReturnConvergenceDelta: true })
        {
            Tensor deltas = GradientAttributor.ConvergenceDelta(forward.Forward, attributed, baselines!, attributions);
            record.Scores[AttributionOutputAssembler.DeltasScore] = deltas.to(ScalarType.Float32).data<float>().ToArray();
        }

        int index = 0;
        if (EncoderDecoder)
        {
            record.Source = HostRows.Split(attributions[index++]);
        }

        if (attributeTarget)
        {
            record.Target = HostRows.Split(attributions[index]);
        }

        return _method is Occlusion ? [] : [(int)attributions[0].shape[^1]];
    }

    /// <summary>The requested step scores of one step, from a forward without gradients.</summary>
    private void ScoreStep(StepForward forward, StepInputs inputs, StepRecord record)
    {
        using var noGrad = torch.no_grad();
        Tensor logits = forward.Logits(inputs.SourceEmbeds, inputs.PrefixEmbeds, 1);
        StepFunctionContext context = forward.Context(logits, inputs.SourceEmbeds, inputs.PrefixEmbeds, 1, attributed: false);
        foreach (StepFunction fn in _request.StepScores)
        {
            Tensor scores = StepFunctionEvaluator.Evaluate(fn, context);
            record.Scores[fn.Id] = scores.to(ScalarType.Float32).data<float>().ToArray();
        }
    }

    /// <summary>The method's attributions of one step, one tensor per attributed input (the dispatch over methods).</summary>
    private Tensor[] Attribute(
        int step, int[] rows, StepInputs inputs, StepForward forward, List<Tensor> attributed, List<Tensor>? baselines, bool attributeTarget,
        CancellationToken cancellationToken) => _method switch
        {
            // Saliency, input x gradient, integrated gradients, the rest of the gradient family and user methods:
            // the native code attached to the method's id (NativeAttributionMethods).
            _ when GradientMethodDispatcher.Handles(_method) => GradientMethodDispatcher.Attribute(_method, new GradientStepContext
            {
                Model = _model,
                Inputs = attributed,
                Ids = [.. EncoderDecoder ? [inputs.SourceIds!] : Array.Empty<Tensor>(), .. attributeTarget ? [inputs.PrefixIds] : Array.Empty<Tensor>()],
                BaselineIds = [.. EncoderDecoder ? [_inputs.Rows(_inputs.Sources!.Baseline, rows, _inputs.Sources.Width)] : Array.Empty<Tensor>(), .. attributeTarget ? [_inputs.Rows(_inputs.Targets.Baseline, rows, step)] : Array.Empty<Tensor>()],
                EncoderSide = [.. EncoderDecoder ? [true] : Array.Empty<bool>(), .. attributeTarget ? [false] : Array.Empty<bool>()],
                Forward = forward.ForwardWith,
                State = _state,
                IsSpecial = _owner.Tokenizer.IsSpecial,
                AttributeTarget = EncoderDecoder && _request.AttributeTarget,
                Cancellation = cancellationToken,
            }),
            Occlusion occlusion => OcclusionAttributor.Attribute(forward.Forward, attributed, _inputs.Baselines(rows, step, inputs.SourceIds is not null, attributeTarget), occlusion),
            Lime lime => LimeAttributor.Attribute(forward.Forward, attributed, lime, _random!, lime.MaskToken == "pad" ? _owner.PadId : _owner.UnkId),
            Reagent reagent => ReagentStep(reagent, inputs.SourceIds, inputs.PrefixIds, inputs.TargetIds, attributeTarget, attributed),
            _ => throw new InvalidRequestException($"Method '{_method.Id}' is not implemented by the native backend."),
        };

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
