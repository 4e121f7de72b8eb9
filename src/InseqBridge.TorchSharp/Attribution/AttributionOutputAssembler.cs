using System.Text.Json.Nodes;
using InseqBridge.Attribution;
using InseqBridge.Data;

namespace InseqBridge.Native.Attribution;

/// <summary>
/// Turns the host-side step records of one batch into Inseq's outputs: per sequence, padding removed, steps stitched
/// along dimension 1, finished rows left out, NaN where a target position is not in a step's prefix; per step
/// (output_step_attributions), every batch row with NaN for rows that had finished. Pure: no tensors, no model.
/// </summary>
internal sealed class AttributionOutputAssembler
{
    /// <summary>Step score key of convergence deltas (Inseq's <c>deltas</c>).</summary>
    internal const string DeltasScore = "deltas";

    private readonly OutputAssemblyInputs _inputs;

    public AttributionOutputAssembler(OutputAssemblyInputs inputs) => _inputs = inputs;

    private EncodedTexts Targets => _inputs.Targets;

    /// <summary>The output of the batch: its sequences, its steps when requested, and <paramref name="info"/>.</summary>
    /// <param name="result">The execution path's records.</param>
    /// <param name="end">The attributed end position (exclusive) after Inseq's position checks.</param>
    /// <param name="info">The output's info object.</param>
    public FeatureAttributionOutput Assemble(StepExecutionResult result, int end, JsonObject info) => new()
    {
        SequenceAttributions = BuildSequences(result, end),
        Info = info,
        StepAttributions = _inputs.OutputStepAttributions ? BuildSteps(result.Records, result.InnerShape) : null,
    };

    /// <summary>One output per batch row.</summary>
    public List<FeatureAttributionSequenceOutput> BuildSequences(StepExecutionResult result, int end)
    {
        IReadOnlyList<StepRecord> records = result.Records;
        int count = Targets.Count;
        var tokenized = new List<TokenWithId>[count];
        var stepsOf = new List<(StepRecord Record, int Row)>[count];
        bool keepFirst = _inputs.EncoderDecoder && Enumerable.Range(0, count).All(b => Targets.Tokens[b][0] == _inputs.PadToken);
        for (int b = 0; b < count; b++)
        {
            tokenized[b] = TargetTokens(b, keepFirst);
            stepsOf[b] = StepsOf(records, b);
        }

        int[] posStart = Enumerable.Range(0, count).Select(b => Math.Min(tokenized[b].Count, end) - stepsOf[b].Count).ToArray();
        int maxPosStart = posStart.Max();
        int lastPosition = records.Max(r => r.Position);
        var sequences = new List<FeatureAttributionSequenceOutput>();
        for (int b = 0; b < count; b++)
        {
            var steps = stepsOf[b];
            int n = steps.Count;
            IReadOnlyList<TokenWithId> source = _inputs.EncoderDecoder
                ? _inputs.Sources!.Tokens[b].Select((t, i) => new TokenWithId(t, (int)_inputs.Sources.Ids[b][i])).Where(t => t.Token != _inputs.PadToken).ToList()
                : tokenized[b].Take(posStart[b]).ToList();
            var sequenceScores = new Dictionary<string, NdArray>();
            foreach (SequenceScore score in result.SequenceScores)
            {
                sequenceScores[score.Name] = score.Build(b, source.Count, n);
            }

            sequences.Add(new FeatureAttributionSequenceOutput
            {
                SequenceScores = sequenceScores,
                Source = source,
                Target = tokenized[b],
                SourceAttributions = SourceAttributions(steps, source.Count, result.InnerShape),
                TargetAttributions = TargetAttributions(steps, tokenized[b].Count, maxPosStart - posStart[b], lastPosition, result.InnerShape),
                StepScores = SequenceStepScores(steps),
                AttrPosStart = posStart[b],
                AttrPosEnd = Math.Min(end, tokenized[b].Count),
                Kind = _inputs.Kind,
                NumDimensions = _inputs.NumDimensions,
            });
        }

        return sequences;
    }

    /// <summary>
    /// The per-step outputs (output_step_attributions): every batch row, rows that had finished at a step filled with
    /// NaN as Inseq's remap_from_filtered does; tokens with padding. Sequence scores are kept on the sequences only.
    /// </summary>
    public List<FeatureAttributionStepOutput> BuildSteps(IReadOnlyList<StepRecord> records, int[]? innerShape)
    {
        int count = Targets.Count;
        EncodedTexts? sources = _inputs.Sources;
        var steps = new List<FeatureAttributionStepOutput>(records.Count);
        foreach (StepRecord record in records)
        {
            int step = record.Position;
            steps.Add(new FeatureAttributionStepOutput
            {
                Source = sources is null ? null : Enumerable.Range(0, count).Select(b => Tokens(sources.Ids[b], sources.Tokens[b], sources.Width)).ToList(),
                Prefix = Enumerable.Range(0, count).Select(b => Tokens(Targets.Ids[b], Targets.Tokens[b], step)).ToList(),
                Target = Enumerable.Range(0, count).Select(b => (IReadOnlyList<TokenWithId>)[new TokenWithId(Targets.Tokens[b][step], (int)Targets.Ids[b][step])]).ToList(),
                SourceAttributions = PackAllRows(record, record.Source, innerShape),
                TargetAttributions = PackAllRows(record, record.Target, innerShape),
                StepScores = AllRowsStepScores(record),
                Kind = _inputs.Kind,
            });
        }

        return steps;
    }

    private static int InnerSize(int[]? innerShape) => innerShape?.Aggregate(1, (a, b) => a * b) ?? 0;

    private static IReadOnlyList<TokenWithId> Tokens(long[] ids, string[] tokens, int length) =>
        Enumerable.Range(0, length).Select(i => new TokenWithId(tokens[i], (int)ids[i])).ToList();

    /// <summary>Row <paramref name="b"/>'s target tokens without padding (contrastive ones shown as "contrast → original").</summary>
    private List<TokenWithId> TargetTokens(int b, bool keepFirst)
    {
        IReadOnlyList<TokenWithId> all = Targets.Tokens[b].Select((t, i) => new TokenWithId(t, (int)Targets.Ids[b][i])).ToList();
        if (_inputs.ContrastPairs is not null)
        {
            all = ContrastAlignment.DisplayTokens(all, _inputs.ContrastTokens![b], _inputs.ContrastPairs[b]);
        }

        string[] originalTokens = Targets.Tokens[b];
        return Enumerable.Range(0, all.Count).Where(i => (keepFirst && i == 0) || originalTokens[i] != _inputs.PadToken).Select(i => all[i]).ToList();
    }

    /// <summary>The steps where row <paramref name="b"/> is active and its target is not padding, with its index in each record.</summary>
    private List<(StepRecord Record, int Row)> StepsOf(IReadOnlyList<StepRecord> records, int b) => records
        .Select(r => (Record: r, Row: Array.IndexOf(r.Rows, b)))
        .Where(x => x.Row >= 0 && Targets.Tokens[b][x.Record.Position] != _inputs.PadToken)
        .ToList();

    /// <summary>[source length, steps, inner...]: each step's row of source attributions.</summary>
    private static NdArray? SourceAttributions(List<(StepRecord Record, int Row)> steps, int sourceLength, int[]? innerShape)
    {
        if (innerShape is null || !steps.Any(s => s.Record.Source is not null))
        {
            return null;
        }

        int n = steps.Count, inner = InnerSize(innerShape);
        var data = new float[sourceLength * n * inner];
        for (int k = 0; k < n; k++)
        {
            float[] row = steps[k].Record.Source![steps[k].Row];
            for (int i = 0; i < sourceLength; i++)
            {
                Array.Copy(row, i * inner, data, ((i * n) + k) * inner, inner);
            }
        }

        return new NdArray(data, [sourceLength, n, .. innerShape]);
    }

    /// <summary>
    /// [target rows, steps, inner...]: each step's prefix attributions, shifted by <paramref name="offset"/> (the
    /// row's left padding relative to the batch), NaN where a position is not in the step's prefix.
    /// </summary>
    private static NdArray? TargetAttributions(List<(StepRecord Record, int Row)> steps, int length, int offset, int lastPosition, int[]? innerShape)
    {
        if (innerShape is null || !steps.Any(s => s.Record.Target is not null))
        {
            return null;
        }

        // Inseq slices the stacked prefix rows to the sequence and, when that falls short, pads one NaN row.
        int n = steps.Count, inner = InnerSize(innerShape);
        int rowCount = Math.Max(0, Math.Min(length, lastPosition - offset));
        if (rowCount != length)
        {
            rowCount++;
        }

        var data = new float[rowCount * n * inner];
        Array.Fill(data, float.NaN);
        for (int k = 0; k < n; k++)
        {
            float[] row = steps[k].Record.Target![steps[k].Row];
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

        return new NdArray(data, [rowCount, n, .. innerShape]);
    }

    /// <summary>Step scores of one sequence, id → [steps]: the method's own (convergence deltas) first, then the requested ones.</summary>
    private Dictionary<string, NdArray> SequenceStepScores(List<(StepRecord Record, int Row)> steps)
    {
        var scores = new Dictionary<string, NdArray>();
        IEnumerable<string> ids = steps.Any(x => x.Record.Scores.ContainsKey(DeltasScore)) ? [DeltasScore] : [];
        foreach (string id in ids.Concat(_inputs.StepScoreIds))
        {
            scores[id] = new NdArray(steps.Select(x => x.Record.Scores[id][x.Row]).ToArray(), steps.Count);
        }

        return scores;
    }

    /// <summary>Step scores of one step over every batch row, id → [batch], NaN for finished rows.</summary>
    private Dictionary<string, NdArray> AllRowsStepScores(StepRecord record)
    {
        int count = Targets.Count;
        var scores = new Dictionary<string, NdArray>();
        IEnumerable<string> ids = record.Scores.ContainsKey(DeltasScore) ? [DeltasScore] : [];
        foreach (string id in ids.Concat(_inputs.StepScoreIds).Where(record.Scores.ContainsKey))
        {
            var values = new float[count];
            Array.Fill(values, float.NaN);
            for (int k = 0; k < record.Rows.Length; k++)
            {
                values[record.Rows[k]] = record.Scores[id][k];
            }

            scores[id] = new NdArray(values, count);
        }

        return scores;
    }

    /// <summary>[batch, positions, inner...] of one step, NaN for finished rows.</summary>
    private NdArray? PackAllRows(StepRecord record, float[][]? rows, int[]? innerShape)
    {
        int inner = InnerSize(innerShape);
        if (rows is null || innerShape is null || inner == 0)
        {
            return null;
        }

        int count = Targets.Count;
        int positions = rows.Max(r => r.Length) / inner;
        var data = new float[count * positions * inner];
        Array.Fill(data, float.NaN);
        for (int k = 0; k < record.Rows.Length; k++)
        {
            Array.Copy(rows[k], 0, data, record.Rows[k] * positions * inner, Math.Min(rows[k].Length, positions * inner));
        }

        return new NdArray(data, [count, positions, .. innerShape]);
    }
}
