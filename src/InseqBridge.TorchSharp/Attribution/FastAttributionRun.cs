using InseqBridge.Attribution;
using InseqBridge.TorchSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.TorchSharp.Attribution;

/// <summary>
/// <see cref="ExecutionMode.Fast"/>: the steps of one batch computed together, with the results of Inseq's per-step
/// procedure (<see cref="AttributionRun"/>). Every model this backend runs is causal on the target side, so the
/// logits at position <c>t - 1</c> of a forward over a longer target equal the last-position logits of the prefix
/// forward of step <c>t</c>, and the gradients of step <c>t</c>'s score are zero beyond position <c>t - 1</c>:
/// <list type="bullet">
/// <item>step scores of every step come from one teacher-forced forward without gradients;</item>
/// <item>gradients of all steps (and, for integrated gradients, all interpolation points) come from batches of
/// replicated rows, one row per (step, sequence[, alpha]), each read at its own last position: the rows are
/// independent, so one backward pass of the summed scores yields every row's gradient. Rows are packed in chunks
/// under <see cref="MemoryBudgetBytes"/> (and at most <c>internal_batch_size</c> rows when that is set).</item>
/// </list>
/// Requests this path cannot reproduce exactly run in reference mode (see <see cref="Supports"/>).
/// </summary>
internal sealed class FastAttributionRun
{
    private readonly NativeAttributionModel _owner;
    private readonly TransformerLanguageModel _model;
    private readonly AttributionMethod _method;
    private readonly AttributionRequest _request;
    private readonly StepFunction _attributedFn;
    private readonly EncodedTexts? _sources;
    private readonly EncodedTexts _targets;

    public FastAttributionRun(NativeAttributionModel owner, AttributionMethod method, AttributionRequest request, EncodedTexts? sources, EncodedTexts targets)
    {
        _owner = owner;
        _model = owner.Model;
        _method = method;
        _request = request;
        _attributedFn = request.AttributedFunction ?? StepFunction.Default;
        _sources = sources;
        _targets = targets;
    }

    /// <summary>
    /// Activation memory one chunk of replicated rows may use (an estimate from the model's width and vocabulary).
    /// Override with the environment variable <c>INSEQ_BRIDGE_FAST_BUDGET_MB</c>.
    /// </summary>
    internal static long MemoryBudgetBytes { get; } =
        long.TryParse(Environment.GetEnvironmentVariable("INSEQ_BRIDGE_FAST_BUDGET_MB"), out long mb) && mb > 0 ? mb << 20 : 1L << 30;

    private bool EncoderDecoder => _model.IsEncoderDecoder;

    /// <summary>
    /// Whether the fast path reproduces reference mode for this request: saliency, input_x_gradient,
    /// integrated_gradients (without convergence deltas) and dummy, with built-in non-contrastive step functions,
    /// no contrastive inputs, and a first attributed position after the first token. Everything else (other
    /// methods, contrastive or user step functions as attributed function, final-step methods, which already take
    /// one forward) runs in reference mode.
    /// </summary>
    public static bool Supports(AttributionMethod method, AttributionRequest request, bool hasContrast, int start)
    {
        if (request.Mode != ExecutionMode.Fast || hasContrast || start < 1)
        {
            return false;
        }

        bool methodOk = method is Saliency or InputXGradient or DummyAttribution or IntegratedGradients { ReturnConvergenceDelta: false };
        StepFunction attributed = request.AttributedFunction ?? StepFunction.Default;
        bool attributedOk = method is DummyAttribution || attributed is not (CustomStepFunction or ContrastiveStepFunction);
        return methodOk && attributedOk && !request.StepScores.Any(s => s is ContrastiveStepFunction);
    }

    /// <summary>One (step, sequence) pair: a row of the replicated batch (times the alphas of integrated gradients).</summary>
    private sealed record Job(AttributionRun.StepRecord Record, int RecordRow, int Row, int Step);

    /// <summary>Fills <paramref name="records"/> for steps <paramref name="start"/> .. <paramref name="iterEnd"/> - 1; returns the trailing attribution shape.</summary>
    public int[]? Run(int start, int iterEnd, List<AttributionRun.StepRecord> records, IProgress<int>? stepDone, CancellationToken cancellationToken)
    {
        for (int step = start; step < iterEnd; step++)
        {
            int[] active = Enumerable.Range(0, _targets.Count).Where(b => _targets.Mask[b][step] == 1).ToArray();
            records.Add(new AttributionRun.StepRecord { Position = step, Rows = active });
        }

        if (_request.StepScores.Count > 0)
        {
            StepScores(iterEnd, records);
        }

        int[]? innerShape = null;
        if (_method is not DummyAttribution)
        {
            innerShape = Gradients(records, cancellationToken);
        }

        stepDone?.Report(records.Count);
        return innerShape;
    }

    private Tensor Rows(long[][] data, IReadOnlyList<int> rows, int width)
    {
        var flat = new long[rows.Count * width];
        for (int r = 0; r < rows.Count; r++)
        {
            Array.Copy(data[rows[r]], 0, flat, r * width, width);
        }

        return torch.tensor(flat, [rows.Count, width], device: _model.Device);
    }

    /// <summary>Every step's scores from one teacher-forced forward without gradients.</summary>
    private void StepScores(int iterEnd, List<AttributionRun.StepRecord> records)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        int width = iterEnd - 1;
        int[] all = Enumerable.Range(0, _targets.Count).ToArray();
        Tensor logits = Logits(
            EncoderDecoder ? _model.EmbedEncoderTokens(Rows(_sources!.Ids, all, _sources.Width)) : null,
            EncoderDecoder ? Rows(_sources!.Mask, all, _sources.Width) : null,
            _model.EmbedDecoderTokens(Rows(_targets.Ids, all, width)),
            Rows(_targets.Mask, all, width));
        foreach (AttributionRun.StepRecord record in records)
        {
            if (record.Rows.Length == 0)
            {
                continue;
            }

            using var stepScope = torch.NewDisposeScope();
            Tensor rows = torch.tensor(record.Rows.Select(r => (long)r).ToArray(), device: _model.Device);
            Tensor stepLogits = logits.index_select(0, rows).select(1, record.Position - 1);
            Tensor targetIds = torch.tensor(record.Rows.Select(b => _targets.Ids[b][record.Position]).ToArray(), device: _model.Device);
            var context = new StepFunctionContext(stepLogits, targetIds);
            foreach (StepFunction fn in _request.StepScores)
            {
                record.Scores[fn.Id] = StepFunctionEvaluator.Evaluate(fn, context).to(ScalarType.Float32).cpu().data<float>().ToArray();
            }
        }
    }

    /// <summary>Logits [rows, positions, vocab] of a teacher-forced forward.</summary>
    private Tensor Logits(Tensor? sourceEmbeds, Tensor? sourceMask, Tensor targetEmbeds, Tensor targetMask)
    {
        if (EncoderDecoder)
        {
            EncoderOutput encoded = _model.Encode(sourceEmbeds!, sourceMask, ForwardOptions.None);
            return _model.Decode(targetEmbeds, targetMask, null, encoded, sourceMask, null, ForwardOptions.None).Logits;
        }

        return _model.Decode(targetEmbeds, targetMask, null, null, null, null, ForwardOptions.None).Logits;
    }

    private int[] Gradients(List<AttributionRun.StepRecord> records, CancellationToken cancellationToken)
    {
        bool attributeTarget = !EncoderDecoder || _request.AttributeTarget;
        var jobs = new List<Job>();
        foreach (AttributionRun.StepRecord record in records)
        {
            if (record.Rows.Length == 0)
            {
                continue;
            }

            if (EncoderDecoder)
            {
                record.Source = new float[record.Rows.Length][];
            }

            if (attributeTarget)
            {
                record.Target = new float[record.Rows.Length][];
            }

            for (int r = 0; r < record.Rows.Length; r++)
            {
                jobs.Add(new Job(record, r, record.Rows[r], record.Position));
            }
        }

        (double[] alphas, double[] stepSizes) = _method is IntegratedGradients ig ? QuadratureRule.Get(ig.Method, ig.Steps) : (new[] { 1.0 }, new[] { 1.0 });
        int perJob = alphas.Length;
        int sourceWidth = _sources?.Width ?? 0;
        long hidden = -1;

        // Units (job, alpha) in job-major order, so a job's alphas are contiguous and the width grows along the list.
        long tokenBudget = Math.Max(1, MemoryBudgetBytes / BytesPerToken());
        int? unitCap = (_method as IntegratedGradients)?.InternalBatchSize;
        int unit = 0, total = jobs.Count * perJob;
        var sourceSums = new Tensor?[jobs.Count];
        var targetSums = new Tensor?[jobs.Count];
        using var scope = torch.NewDisposeScope();
        while (unit < total)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = 0;
            while (unit + count < total)
            {
                int width = jobs[(unit + count) / perJob].Step;
                long tokens = (count + 1L) * (width + sourceWidth);
                if (count > 0 && (tokens > tokenBudget || (unitCap is int cap && count + 1 > cap)))
                {
                    break;
                }

                count++;
            }

            hidden = Chunk(jobs, unit, count, perJob, alphas, stepSizes, attributeTarget, sourceSums, targetSums);
            unit += count;
        }

        for (int j = 0; j < jobs.Count; j++)
        {
            Job job = jobs[j];
            if (sourceSums[j] is Tensor s)
            {
                job.Record.Source![job.RecordRow] = s.to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
            }

            if (targetSums[j] is Tensor t)
            {
                job.Record.Target![job.RecordRow] = t.to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
            }
        }

        return [(int)hidden];
    }

    /// <summary>A rough activation footprint per token of one forward + backward, for chunking.</summary>
    private long BytesPerToken()
    {
        long hidden;
        using (torch.no_grad())
        using (Tensor probe = _model.EmbedDecoderTokens(torch.tensor(new long[] { _owner.PadId }, [1, 1], device: _model.Device)))
        {
            hidden = probe.shape[^1];
        }

        // About 40 saved activations of width `hidden` per layer for ~12 layers, plus logits and their gradient.
        return (hidden * 4 * 40 * 12) + (_owner.Config.VocabSize * 4L * 3);
    }

    /// <summary>One chunk of units: forward, one backward, and the per-job results accumulated; returns the hidden size.</summary>
    private long Chunk(
        List<Job> jobs, int first, int count, int perJob, double[] alphas, double[] stepSizes, bool attributeTarget, Tensor?[] sourceSums, Tensor?[] targetSums)
    {
        using var scope = torch.NewDisposeScope();
        var unitJobs = Enumerable.Range(first, count).Select(u => jobs[u / perJob]).ToArray();
        int width = unitJobs.Max(j => j.Step);
        int[] rows = unitJobs.Select(j => j.Row).ToArray();
        bool ig = _method is IntegratedGradients;
        Tensor alpha = torch.tensor(Enumerable.Range(first, count).Select(u => (float)alphas[u % perJob]).ToArray(), [count, 1, 1], device: _model.Device);
        Tensor sizes = torch.tensor(Enumerable.Range(first, count).Select(u => (float)stepSizes[u % perJob]).ToArray(), [count, 1, 1], device: _model.Device);

        Tensor targetInput = _model.EmbedDecoderTokens(Rows(_targets.Ids, rows, width));
        Tensor targetMask = Rows(_targets.Mask, rows, width);
        Tensor? targetBaseline = ig && attributeTarget ? _model.EmbedDecoderTokens(Rows(_targets.Baseline, rows, width)) : null;
        Tensor? sourceInput = null, sourceMask = null, sourceBaseline = null;
        if (EncoderDecoder)
        {
            sourceInput = _model.EmbedEncoderTokens(Rows(_sources!.Ids, rows, _sources.Width));
            sourceMask = Rows(_sources.Mask, rows, _sources.Width);
            sourceBaseline = ig ? _model.EmbedEncoderTokens(Rows(_sources.Baseline, rows, _sources.Width)) : null;
        }

        Tensor Interpolate(Tensor input, Tensor? baseline) => baseline is null ? input : baseline + ((input - baseline) * alpha);

        Tensor? sourceLeaf = sourceInput is null ? null : Interpolate(sourceInput, sourceBaseline).detach().requires_grad_(true);
        Tensor? targetLeaf = attributeTarget ? Interpolate(targetInput, targetBaseline).detach().requires_grad_(true) : null;
        Tensor logits = Logits(sourceLeaf, sourceMask, targetLeaf ?? targetInput, targetMask);
        Tensor last = torch.tensor(unitJobs.Select(j => (long)j.Step - 1).ToArray(), device: _model.Device);
        Tensor stepLogits = logits.index([TensorIndex.Tensor(torch.arange(count, device: _model.Device)), TensorIndex.Tensor(last)]);
        Tensor targetIds = torch.tensor(unitJobs.Select(j => _targets.Ids[j.Row][j.Step]).ToArray(), device: _model.Device);
        Tensor scores = StepFunctionEvaluator.Evaluate(_attributedFn, new StepFunctionContext(stepLogits, targetIds) { IsAttributedFunction = true });
        Tensor[] leaves = [.. sourceLeaf is null ? Array.Empty<Tensor>() : [sourceLeaf], .. targetLeaf is null ? Array.Empty<Tensor>() : [targetLeaf]];
        IList<Tensor> grads = torch.autograd.grad([scores.sum()], leaves);
        Tensor? sourceGrad = sourceLeaf is null ? null : grads[0];
        Tensor? targetGrad = targetLeaf is null ? null : grads[^1];

        for (int u = 0; u < count;)
        {
            int j = (first + u) / perJob;
            int span = Math.Min(count - u, ((j + 1) * perJob) - (first + u));
            int step = jobs[j].Step;
            if (sourceGrad is not null)
            {
                sourceSums[j] = Accumulate(sourceSums[j], Finish(sourceGrad, sourceInput!, sourceBaseline, sizes, u, span, sourceInput!.shape[1], ig));
            }

            if (targetGrad is not null)
            {
                targetSums[j] = Accumulate(targetSums[j], Finish(targetGrad, targetInput, targetBaseline, sizes, u, span, step, ig));
            }

            u += span;
        }

        return targetInput.shape[^1];
    }

    /// <summary>The attribution (or, for integrated gradients, the partial sum over these alphas) of one job.</summary>
    private Tensor Finish(Tensor grad, Tensor input, Tensor? baseline, Tensor sizes, int first, int span, long positions, bool ig)
    {
        Tensor g = grad.narrow(0, first, span).narrow(1, 0, positions);
        Tensor x = input.narrow(0, first, 1).narrow(1, 0, positions).squeeze(0);
        if (ig)
        {
            Tensor summed = (g * sizes.narrow(0, first, span)).sum(0L);
            return summed * (x - baseline!.narrow(0, first, 1).narrow(1, 0, positions).squeeze(0));
        }

        return _method is Saliency ? g.squeeze(0).abs() : g.squeeze(0) * x;
    }

    private static Tensor Accumulate(Tensor? total, Tensor part)
    {
        Tensor result = total is null ? part : total + part;
        return result.MoveToOuterDisposeScope();
    }
}
