using InseqBridge.Attribution;
using InseqBridge.Native.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution;

/// <summary>
/// <see cref="ExecutionMode.Fast"/>: the steps of one batch computed together, with the results of Inseq's per-step
/// procedure (<see cref="PerStepExecution"/>). Every model this backend runs is causal on the target side, so the
/// hidden state at position <c>t - 1</c> of a forward over a longer target equals the last-position state of the
/// prefix forward of step <c>t</c>, and the gradients of step <c>t</c>'s score are zero beyond position <c>t - 1</c>:
/// <list type="bullet">
/// <item>step scores of every step come from one teacher-forced forward without gradients;</item>
/// <item>gradients: rows (sequence x integrated-gradient point x step group) are packed in chunks under a memory
/// budget (<see cref="FastModeTuning"/>, and at most <c>internal_batch_size</c> rows when that is set); each chunk
/// runs one forward in blocks through a key/value cache that keeps the graph, the attributed function's gradient
/// with respect to each read hidden state is computed outside the graph on small blocks, and backward passes over
/// the retained graph yield each step's gradients, each pass only through the blocks up to its steps.</item>
/// </list>
/// Requests this path cannot reproduce exactly run in reference mode (see <see cref="Supports"/>).
/// </summary>
internal sealed class FastAttributionRun : IStepExecution
{
    private readonly NativeAttributionModel _owner;
    private readonly TransformerLanguageModel _model;
    private readonly AttributionMethod _method;
    private readonly AttributionRequest _request;
    private readonly StepFunction _attributedFn;
    private readonly EncodedTexts? _sources;
    private readonly EncodedTexts _targets;
    private readonly FastModeTuning _tuning;

    public FastAttributionRun(NativeAttributionModel owner, AttributionMethod method, AttributionRequest request, EncodedTexts? sources, EncodedTexts targets)
    {
        _owner = owner;
        _model = owner.Model;
        _method = method;
        _request = request;
        _attributedFn = request.AttributedFunction ?? StepFunction.Default;
        _sources = sources;
        _targets = targets;
        _tuning = owner.FastTuning;
    }

    /// <summary>Bytes of one float32 value.</summary>
    private const int BytesPerFloat = sizeof(float);

    /// <summary>
    /// Saved activations of width <c>hidden</c> per layer and token in the retained graph (attention and MLP inputs,
    /// norms, residuals, softmax outputs): a rough count, used only to size chunks, so errors cost speed, not results.
    /// </summary>
    private const int SavedActivationsPerLayer = 40;

    /// <summary>FLOPs per token and layer of a pass, in units of hidden size squared (about 24 d^2), for the cost estimate of a pass.</summary>
    private const int FlopsPerTokenPerLayerPerHiddenSquared = 24;

    /// <summary>
    /// Below this many FLOPs a backward pass costs more in per-operation overhead (about milliseconds on CPU) than
    /// in arithmetic, so step groups (several steps per pass) pay off.
    /// </summary>
    private const long OverheadBoundFlops = 2_000_000_000L;

    /// <summary>Rows x positions one forward block should span: keeps the matrix products of few-row chunks efficient.</summary>
    private const int RowPositionsPerBlock = 96;

    /// <summary>Fewest decoder positions per block after the first: one-position blocks spend most time in per-block overhead.</summary>
    private const int MinBlockPositions = 2;

    /// <summary>Most decoder positions per block after the first: a step's backward pass runs through its whole last block, so large blocks waste work.</summary>
    private const int MaxBlockPositions = 8;

    /// <summary>Bytes of the [rows, vocab] logits of one head block (4 MiB): small enough to stay in a CPU's L2/L3 cache.</summary>
    private const int HeadBlockBytes = 1 << 22;

    /// <summary>Most rows per head block: past this the per-block overhead is already negligible on small vocabularies.</summary>
    private const int MaxHeadBlockRows = 256;

    /// <summary>Memory the retained graph of one chunk of rows may use.</summary>
    private long MemoryBudgetBytes => _tuning.BudgetBytes ?? FastModeTuning.DefaultBudgetBytes;

    private bool EncoderDecoder => _model.IsEncoderDecoder;

    /// <summary>
    /// Whether the fast path reproduces reference mode for this request: a method whose descriptor names a fast rule
    /// (<see cref="AttributionMethodDescriptor.FastModeFor"/>: saliency, input_x_gradient, integrated_gradients without
    /// convergence deltas, dummy), built-in step functions that need no forwards of their own
    /// (<see cref="StepFunctionDescriptor.NeedsExtraForwards"/>), no contrastive inputs, and a first attributed
    /// position after the first token. Everything else (other methods, contrastive or user step functions as
    /// attributed function, final-step methods, which already take one forward) runs in reference mode.
    /// </summary>
    public static bool Supports(AttributionMethod method, AttributionRequest request, bool hasContrast, int start)
    {
        if (request.Mode != ExecutionMode.Fast || hasContrast || start < 1)
        {
            return false;
        }

        FastModeRule rule = RuleOf(method);
        StepFunction attributed = request.AttributedFunction ?? StepFunction.Default;
        bool attributedOk = rule == FastModeRule.NoAttribution || (!NeedsReference(attributed) && StepFunctionRegistry.IsBuiltIn(attributed.Id));
        return rule != FastModeRule.Unsupported && attributedOk && !request.StepScores.Any(NeedsReference);
    }

    /// <summary>The fast rule of <paramref name="method"/> from its descriptor (unknown ids: unsupported).</summary>
    private static FastModeRule RuleOf(AttributionMethod method) =>
        method.GetDescriptor()?.FastModeFor(method) ?? FastModeRule.Unsupported;

    /// <summary>Step functions the shared teacher-forced forward cannot evaluate: those that run forwards of their own
    /// (contrastive inputs, Monte-Carlo dropout), from their descriptors.</summary>
    private static bool NeedsReference(StepFunction function) =>
        function is not CustomStepFunction && function.GetDescriptor() is not { NeedsExtraForwards: false };

    /// <inheritdoc/>
    public StepExecutionResult Execute(int start, int iterEnd, IProgress<int>? stepDone, CancellationToken cancellationToken)
    {
        var records = new List<StepRecord>();
        int[]? innerShape = Run(start, iterEnd, records, stepDone, cancellationToken);
        return new StepExecutionResult(records, innerShape, []);
    }

    /// <summary>Fills <paramref name="records"/> for steps <paramref name="start"/> .. <paramref name="iterEnd"/> - 1; returns the trailing attribution shape.</summary>
    public int[]? Run(int start, int iterEnd, List<StepRecord> records, IProgress<int>? stepDone, CancellationToken cancellationToken)
    {
        for (int step = start; step < iterEnd; step++)
        {
            int[] active = Enumerable.Range(0, _targets.Count).Where(b => _targets.Mask[b][step] == 1).ToArray();
            records.Add(new StepRecord { Position = step, Rows = active });
        }

        if (_request.StepScores.Count > 0)
        {
            StepScores(start, iterEnd, records);
        }

        int reported = 0;
        void Done(double fraction)
        {
            int now = (int)Math.Floor(records.Count * fraction);
            if (now > reported)
            {
                stepDone?.Report(now - reported);
                reported = now;
            }
        }

        int[]? innerShape = null;
        if (RuleOf(_method) != FastModeRule.NoAttribution)
        {
            innerShape = Gradients(start, iterEnd, records, Done, cancellationToken);
        }

        Done(1);
        return innerShape;
    }

    private Tensor Rows(long[][] data, IReadOnlyList<int> rows, int width) => EncodedTexts.Rows(data, rows, width, _model.Device);

    /// <summary>Every step's scores from one teacher-forced forward without gradients (the head on the read positions only).</summary>
    private void StepScores(int start, int iterEnd, List<StepRecord> records)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        int width = iterEnd - 1;
        int[] all = Enumerable.Range(0, _targets.Count).ToArray();
        Tensor read = SafeScalars.Arange(start - 1, iterEnd - 1, _model.Device).unsqueeze(0).expand(all.Length, -1);
        Tensor hidden = ReadHidden(
            EncoderDecoder ? _model.EmbedEncoderTokens(Rows(_sources!.Ids, all, _sources.Width)) : null,
            EncoderDecoder ? Rows(_sources!.Mask, all, _sources.Width) : null,
            _model.EmbedDecoderTokens(Rows(_targets.Ids, all, width)),
            Rows(_targets.Mask, all, width),
            read);
        foreach (StepRecord record in records)
        {
            if (record.Rows.Length == 0)
            {
                continue;
            }

            using var stepScope = torch.NewDisposeScope();
            Tensor rows = torch.tensor(record.Rows.Select(r => (long)r).ToArray(), device: _model.Device);
            Tensor stepLogits = _model.LanguageModelHead(hidden.index_select(0, rows).select(1, record.Position - start));
            Tensor targetIds = torch.tensor(record.Rows.Select(b => _targets.Ids[b][record.Position]).ToArray(), device: _model.Device);
            var context = new StepFunctionContext(stepLogits, targetIds);
            foreach (StepFunction fn in _request.StepScores)
            {
                record.Scores[fn.Id] = StepFunctionEvaluator.Evaluate(fn, context).to(ScalarType.Float32).cpu().data<float>().ToArray();
            }
        }
    }

    /// <summary>
    /// Final decoder hidden states [rows, k, hidden] of a teacher-forced forward at the positions <paramref name="read"/>
    /// [rows, k]: the head is applied per step, so no [rows, k, vocab] tensor is ever held.
    /// </summary>
    private Tensor ReadHidden(Tensor? sourceEmbeds, Tensor? sourceMask, Tensor targetEmbeds, Tensor targetMask, Tensor read)
    {
        var options = new ForwardOptions { HeadPositions = read, Head = ForwardOptions.HiddenStatesHead };
        if (EncoderDecoder)
        {
            EncoderOutput encoded = _model.Encode(sourceEmbeds!, sourceMask, ForwardOptions.None);
            return _model.Decode(targetEmbeds, targetMask, null, encoded, sourceMask, null, options).Logits;
        }

        return _model.Decode(targetEmbeds, targetMask, null, null, null, null, options).Logits;
    }

    /// <summary>
    /// One row of a chunk: a sequence, (for integrated gradients) one interpolation point, and a group of steps:
    /// with <c>G</c> groups, group <c>g</c> takes the steps <c>g, g + G, g + 2G, ...</c> (by index), so backward pass
    /// <c>i</c> differentiates steps <c>iG .. iG + G - 1</c>, one per replica row, at once.
    /// </summary>
    private readonly record struct Unit(int Sequence, int Alpha, int Group);

    /// <summary>Gradient attributions of every step; <paramref name="done"/> receives the fraction of chunks finished.</summary>
    private int[] Gradients(int start, int iterEnd, List<StepRecord> records, Action<double> done, CancellationToken cancellationToken)
    {
        bool attributeTarget = !EncoderDecoder || _request.AttributeTarget;
        foreach (StepRecord record in records.Where(r => r.Rows.Length > 0))
        {
            record.Source = EncoderDecoder ? new float[record.Rows.Length][] : null;
            record.Target = attributeTarget ? new float[record.Rows.Length][] : null;
        }

        (double[] alphas, double[] stepSizes) = _method is IntegratedGradients ig ? QuadratureRule.Get(ig.Method, ig.Steps) : (new[] { 1.0 }, new[] { 1.0 });
        int[] sequences = records.SelectMany(r => r.Rows).Distinct().Order().ToArray();

        // Rows per chunk: the retained graph of one chunk spans every position once. Rows the budget leaves over
        // replicate the sequences so that one backward pass serves several steps (fewer, larger passes).
        int width = iterEnd - 1;
        long rowBytes = (width + (_sources?.Width ?? 0)) * BytesPerToken();
        long budgetRows = Math.Max(1, MemoryBudgetBytes / Math.Max(1, rowBytes));
        if ((_method as IntegratedGradients)?.InternalBatchSize is int cap)
        {
            budgetRows = Math.Min(budgetRows, Math.Max(1, cap));
        }

        int baseRows = sequences.Length * alphas.Length;
        int groups = Groups(records.Count, baseRows, budgetRows);
        var units = sequences
            .SelectMany(b => Enumerable.Range(0, alphas.Length).SelectMany(a => Enumerable.Range(0, groups).Select(g => new Unit(b, a, g))))
            .ToList();
        int rowsPerChunk = (int)Math.Clamp(budgetRows, 1, units.Count);

        var sums = new Dictionary<(int Step, int Sequence), (Tensor? Source, Tensor? Target)>();
        try
        {
            for (int first = 0; first < units.Count; first += rowsPerChunk)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Chunk(units.GetRange(first, Math.Min(rowsPerChunk, units.Count - first)), groups, start, iterEnd, alphas, stepSizes, attributeTarget, records, sums, cancellationToken);
                done(Math.Min(1.0, (first + rowsPerChunk) / (double)units.Count));
            }

            Store(records, sums);
        }
        finally
        {
            foreach (var (source, target) in sums.Values)
            {
                source?.Dispose();
                target?.Dispose();
            }
        }

        return [(int)_model.EmbeddingMatrix.shape[1]];
    }

    private void Store(List<StepRecord> records, Dictionary<(int Step, int Sequence), (Tensor? Source, Tensor? Target)> sums)
    {
        foreach (StepRecord record in records)
        {
            for (int r = 0; r < record.Rows.Length; r++)
            {
                var (source, target) = sums[(record.Position, record.Rows[r])];
                if (source is not null)
                {
                    record.Source![r] = Finish(source, _sources!.Ids, _sources.Baseline, record.Rows[r], (int)source.shape[0], _model.EmbedEncoderTokens);
                }

                if (target is not null)
                {
                    record.Target![r] = Finish(target, _targets.Ids, _targets.Baseline, record.Rows[r], record.Position, _model.EmbedDecoderTokens);
                }
            }
        }
    }

    /// <summary>
    /// A rough footprint of the retained graph per token, for chunking: about 40 saved activations of width
    /// <c>hidden</c> per layer (the head is not in the graph).
    /// </summary>
    private long BytesPerToken()
    {
        long hidden = _model.EmbeddingMatrix.shape[1];
        long layers = Math.Max(1, _model.DecoderLayers + _model.EncoderLayers);
        return hidden * BytesPerFloat * SavedActivationsPerLayer * layers;
    }

    /// <summary>
    /// Step groups (replicas per row): as many as the memory budget allows, up to one per step, when the model is
    /// small enough that a backward pass costs more in per-operation overhead than in arithmetic; otherwise one
    /// (every step its own pass over a shared forward, the least arithmetic). Override with
    /// <see cref="FastModeTuning.Groups"/>.
    /// </summary>
    private int Groups(int steps, int baseRows, long budgetRows)
    {
        if (_tuning.Groups is int forced)
        {
            return Math.Clamp(forced, 1, steps);
        }

        long hidden = _model.EmbeddingMatrix.shape[1];
        long layers = Math.Max(1, _model.DecoderLayers + _model.EncoderLayers);
        long tokens = (_targets.Width + (_sources?.Width ?? 0)) * (long)baseRows;

        bool overheadBound = FlopsPerTokenPerLayerPerHiddenSquared * hidden * hidden * layers * tokens < OverheadBoundFlops;
        return overheadBound ? (int)Math.Clamp(budgetRows / Math.Max(1, baseRows), 1, steps) : 1;
    }

    /// <summary>
    /// Decoder positions per block of the block-wise forward after the first block: the backward pass of a step
    /// runs through the blocks up to its position only, so small blocks waste least; blocks of a few positions keep
    /// the matrix products of few-row chunks efficient. With step groups, a block spans the steps of one pass.
    /// Override with <see cref="FastModeTuning.Block"/>.
    /// </summary>
    private int BlockSize(int rows, int groups) =>
        _tuning.Block is int k ? Math.Max(1, k)
        : groups > 1 ? groups
        : Math.Clamp(RowPositionsPerBlock / rows, MinBlockPositions, MaxBlockPositions);

    /// <summary>The retained graph of one chunk: its rows, leaves, the final hidden state each step reads, and the quadrature weights.</summary>
    /// <param name="Units">The chunk's rows.</param>
    /// <param name="Rows">The sequence of each row.</param>
    /// <param name="SourceLeaf">Source (interpolated) embeddings with gradients (encoder-decoders).</param>
    /// <param name="TargetLeaf">Target (interpolated) embeddings with gradients (when the target is attributed).</param>
    /// <param name="ReadHidden">Step position → final hidden states [rows, hidden] it reads, in the graph.</param>
    /// <param name="Sizes">Quadrature step size of each row, [rows, 1, 1].</param>
    /// <param name="Ig">Whether the method is integrated gradients (weighted sums).</param>
    private sealed record ChunkGraph(List<Unit> Units, int[] Rows, Tensor? SourceLeaf, Tensor? TargetLeaf, Dictionary<int, Tensor> ReadHidden, Tensor Sizes, bool Ig)
    {
        /// <summary>The leaves the backward passes differentiate: the source, then the target.</summary>
        public Tensor[] Leaves { get; } = [.. SourceLeaf is null ? Array.Empty<Tensor>() : [SourceLeaf], .. TargetLeaf is null ? Array.Empty<Tensor>() : [TargetLeaf]];
    }

    /// <summary>
    /// One chunk of rows: the (interpolated) inputs as leaves, one forward in blocks through a key/value cache that
    /// keeps the graph (the prefix, then a few positions at a time), the final hidden state of every read position,
    /// then backward passes over the retained graph, each differentiating one step per row (the step of its group).
    /// The per-row gradients are summed per (step, sequence) into <paramref name="sums"/>, weighted by the
    /// quadrature step sizes for integrated gradients.
    /// </summary>
    private void Chunk(
        List<Unit> units, int groups, int start, int iterEnd, double[] alphas, double[] stepSizes, bool attributeTarget,
        List<StepRecord> records, Dictionary<(int Step, int Sequence), (Tensor? Source, Tensor? Target)> sums, CancellationToken cancellationToken)
    {
        using var scope = torch.NewDisposeScope();
        using Scalar one = 1.0.ToScalar();
        int count = units.Count, width = iterEnd - 1;
        int[] rows = units.Select(u => u.Sequence).ToArray();
        bool ig = RuleOf(_method) == FastModeRule.IntegratedGradients;
        Tensor alpha = torch.tensor(units.Select(u => (float)alphas[u.Alpha]).ToArray(), [count, 1, 1], device: _model.Device);

        Tensor Leaf(Tensor input, Tensor? baseline) =>
            (baseline is null ? input : baseline.add((input - baseline).mul(alpha), one)).detach().requires_grad_(true);

        Tensor targetIds = Rows(_targets.Ids, rows, _targets.Width);
        Tensor targetInput = _model.EmbedDecoderTokens(targetIds.narrow(1, 0, width));
        Tensor targetMask = Rows(_targets.Mask, rows, width);
        Tensor? targetLeaf = attributeTarget
            ? Leaf(targetInput, ig ? _model.EmbedDecoderTokens(Rows(_targets.Baseline, rows, width)) : null)
            : null;
        Tensor? sourceLeaf = null, sourceMask = null;
        EncoderOutput? encoded = null;
        if (EncoderDecoder)
        {
            Tensor sourceInput = _model.EmbedEncoderTokens(Rows(_sources!.Ids, rows, _sources.Width));
            sourceMask = Rows(_sources.Mask, rows, _sources.Width);
            sourceLeaf = Leaf(sourceInput, ig ? _model.EmbedEncoderTokens(Rows(_sources.Baseline, rows, _sources.Width)) : null);
            encoded = _model.Encode(sourceLeaf, sourceMask, ForwardOptions.None);
        }

        using var cache = new KvCache();
        Dictionary<int, Tensor> readHidden = ForwardInBlocks(targetLeaf ?? targetInput, targetMask, encoded, sourceMask, cache, BlockSize(count, groups), start, width);
        Tensor sizes = torch.tensor(units.Select(u => (float)stepSizes[u.Alpha]).ToArray(), [count, 1, 1], device: _model.Device);
        var graph = new ChunkGraph(units, rows, sourceLeaf, targetLeaf, readHidden, sizes, ig);
        int passes = (records.Count + groups - 1) / groups;
        for (int pass = 0; pass < passes; pass++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            BackwardPass(graph, pass, retainGraph: pass < passes - 1, groups, records, sums, one);
        }
    }

    /// <summary>
    /// The forward of a chunk in blocks: [0, start) reads step <c>start</c>; every later block reads each of its
    /// positions. The head stays out of the graph: the forward returns the final hidden states it would read, by
    /// the step position that reads them.
    /// </summary>
    private Dictionary<int, Tensor> ForwardInBlocks(
        Tensor decoderInput, Tensor targetMask, EncoderOutput? encoded, Tensor? sourceMask, KvCache cache, int block, int start, int width)
    {
        long count = decoderInput.shape[0];
        var readHidden = new Dictionary<int, Tensor>();
        var headOnly = new ForwardOptions { Head = ForwardOptions.HiddenStatesHead };
        for (int from = 0; from < width;)
        {
            int to = from == 0 ? start : Math.Min(width, from + block);
            int firstRead = Math.Max(from, start - 1);
            long[] read = Enumerable.Range(firstRead - from, to - firstRead).Select(p => (long)p).ToArray();
            Tensor readTensor = torch.tensor(read, device: _model.Device).unsqueeze(0).expand(count, -1);
            Tensor hidden = _model.Decode(
                decoderInput.narrow(1, from, to - from), targetMask.narrow(1, 0, to), null, encoded, sourceMask, cache,
                headOnly with { HeadPositions = readTensor }).Logits;
            for (int j = 0; j < read.Length; j++)
            {
                readHidden[firstRead + j + 1] = hidden.select(1, j);
            }

            from = to;
        }

        return readHidden;
    }

    /// <summary>
    /// Backward pass <paramref name="pass"/> over a chunk's retained graph: each row differentiates the step of its
    /// group in this pass (when its sequence is active there); the gradients are added to <paramref name="sums"/>.
    /// </summary>
    private void BackwardPass(
        ChunkGraph graph, int pass, bool retainGraph, int groups, List<StepRecord> records,
        Dictionary<(int Step, int Sequence), (Tensor? Source, Tensor? Target)> sums, Scalar one)
    {
        using var passScope = torch.NewDisposeScope();
        int count = graph.Units.Count;
        int[] rows = graph.Rows;
        var rowRecord = new StepRecord?[count];
        for (int r = 0; r < count; r++)
        {
            int index = (pass * groups) + graph.Units[r].Group;
            StepRecord? record = index < records.Count ? records[index] : null;
            rowRecord[r] = record is not null && record.Rows.Contains(rows[r]) ? record : null;
        }

        var passRecords = rowRecord.OfType<StepRecord>().Distinct().ToArray();
        if (passRecords.Length == 0)
        {
            return;
        }

        // The hidden state each row's step reads, its target id, and the attributed function's gradient there.
        Tensor gathered = torch.zeros(count, graph.ReadHidden[passRecords[0].Position].shape[1], device: _model.Device);
        var masks = new Dictionary<StepRecord, Tensor>();
        foreach (StepRecord record in passRecords)
        {
            Tensor mask = torch.tensor(rowRecord.Select(x => ReferenceEquals(x, record)).ToArray(), device: _model.Device).unsqueeze(1);
            masks[record] = mask;
            gathered = torch.where(mask, graph.ReadHidden[record.Position].detach(), gathered);
        }

        Tensor ids = torch.tensor(Enumerable.Range(0, count).Select(r => rowRecord[r] is { } x ? _targets.Ids[rows[r]][x.Position] : _owner.PadId).ToArray(), device: _model.Device);
        Tensor cotangent = HeadCotangents(gathered, ids);
        Tensor zero = torch.zeros(1, device: _model.Device);
        IList<Tensor> grads = torch.autograd.grad(
            passRecords.Select(x => graph.ReadHidden[x.Position]).ToArray(),
            graph.Leaves,
            passRecords.Select(x => torch.where(masks[x], cotangent, zero)).ToArray(),
            retain_graph: retainGraph);

        foreach (StepRecord record in passRecords)
        {
            long[] mine = Enumerable.Range(0, count).Where(r => ReferenceEquals(rowRecord[r], record)).Select(r => (long)r).ToArray();
            int[] mineSequences = mine.Select(r => rows[r]).Distinct().ToArray();
            Tensor index = torch.tensor(mine, device: _model.Device);
            Tensor slot = torch.tensor(mine.Select(r => (long)Array.IndexOf(mineSequences, rows[r])).ToArray(), device: _model.Device);
            Tensor mySizes = graph.Sizes.index_select(0, index);
            Tensor? sourceSum = graph.SourceLeaf is null ? null : PerSequence(grads[0].index_select(0, index), mySizes, slot, mineSequences.Length, graph.Ig, one);
            Tensor? targetSum = graph.TargetLeaf is null ? null
                : PerSequence(grads[^1].index_select(0, index).narrow(1, 0, record.Position), mySizes, slot, mineSequences.Length, graph.Ig, one);
            for (int k = 0; k < mineSequences.Length; k++)
            {
                var key = (record.Position, mineSequences[k]);
                sums.TryGetValue(key, out var sum);
                sums[key] = (Add(sum.Source, sourceSum?[k], one), Add(sum.Target, targetSum?[k], one));
            }
        }
    }

    /// <summary>
    /// Gradients of the attributed function with respect to the hidden states the head reads: [rows, hidden] from
    /// <paramref name="hidden"/> [rows, hidden] (no graph) and the target ids [rows]. The head and the step function
    /// run on small blocks of rows, so their [rows, vocab] tensors stay in cache instead of streaming through memory
    /// several times.
    /// </summary>
    private Tensor HeadCotangents(Tensor hidden, Tensor ids)
    {
        int pairs = (int)hidden.shape[0];
        int blockRows = Math.Clamp(HeadBlockBytes / (BytesPerFloat * Math.Max(1, _owner.Config.VocabSize)), 1, MaxHeadBlockRows);
        var parts = new List<Tensor>();
        for (int first = 0; first < pairs; first += blockRows)
        {
            using var scope = torch.NewDisposeScope();
            int n = Math.Min(blockRows, pairs - first);
            Tensor h = hidden.narrow(0, first, n).detach().requires_grad_(true);
            Tensor logits = _model.LanguageModelHead(h);
            Tensor blockIds = ids.narrow(0, first, n);
            Tensor gradient = ScoreGradient(logits.detach(), blockIds) is Tensor known
                ? torch.autograd.grad([logits], [h], [known])[0]
                : torch.autograd.grad([StepFunctionEvaluator.Evaluate(_attributedFn, new StepFunctionContext(logits, blockIds) { IsAttributedFunction = true }).sum()], [h])[0];
            parts.Add(gradient.MoveToOuterDisposeScope());
        }

        return torch.cat(parts, 0);
    }

    /// <summary>
    /// The attributed function's gradient with respect to the logits [rows, vocab] where it has a closed form (logit:
    /// one-hot; probability: p (e_y - softmax); log-probability: e_y - softmax), computed without a graph; null for
    /// other functions, which go through autograd.
    /// </summary>
    private Tensor? ScoreGradient(Tensor logits, Tensor ids)
    {
        using var noGrad = torch.no_grad();
        Tensor y = ids.unsqueeze(1);
        switch (_attributedFn)
        {
            case Logit:
                return torch.zeros_like(logits).scatter_(1, y, torch.ones(y.shape, device: logits.device));
            case Probability { LogProb: true }:
                return logits.softmax(-1).neg_().scatter_add_(1, y, torch.ones(y.shape, device: logits.device));
            case Probability:
                Tensor softmax = logits.softmax(-1);
                Tensor p = softmax.gather(1, y);
                return softmax.mul_(p.neg()).scatter_add_(1, y, p);
            default:
                return null;
        }
    }

    /// <summary>Gradients [rows, positions, hidden] summed per sequence of the chunk (weighted by the step sizes for integrated gradients); <paramref name="one"/> is index_add_'s alpha, created once per chunk.</summary>
    private static Tensor PerSequence(Tensor grad, Tensor sizes, Tensor slot, int sequences, bool ig, Scalar one)
    {
        if (!ig)
        {
            return sequences == grad.shape[0] ? grad : torch.zeros([sequences, .. grad.shape[1..]], device: grad.device).index_add_(0, slot, grad, one);
        }

        Tensor weighted = grad * sizes;
        return torch.zeros([sequences, .. grad.shape[1..]], device: grad.device).index_add_(0, slot, weighted, one);
    }

    /// <summary>A running sum owned by the caller (outside every dispose scope); the previous total is disposed. <paramref name="one"/> is add's alpha.</summary>
    private static Tensor? Add(Tensor? total, Tensor? part, Scalar one)
    {
        if (part is null)
        {
            return total;
        }

        Tensor result = (total is null ? part.clone() : total.add(part, one)).DetachFromDisposeScope();
        total?.Dispose();
        return result;
    }

    /// <summary>The attribution of one (step, sequence): |g| (saliency), g·x (input x gradient), or the weighted gradient sum times x − baseline (integrated gradients).</summary>
    private float[] Finish(Tensor grad, long[][] ids, long[][] baselineIds, int sequence, int positions, Func<Tensor, Tensor> embed)
    {
        using var scope = torch.NewDisposeScope();
        Tensor x = embed(Rows(ids, [sequence], positions)).squeeze(0);
        Tensor result = RuleOf(_method) switch
        {
            FastModeRule.AbsoluteGradient => grad.abs(),
            FastModeRule.IntegratedGradients => grad * (x - embed(Rows(baselineIds, [sequence], positions)).squeeze(0)),
            _ => grad * x,
        };
        return result.to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
    }
}
