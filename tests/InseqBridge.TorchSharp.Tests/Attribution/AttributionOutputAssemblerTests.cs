using System.Text.Json.Nodes;
using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Native.Attribution;

namespace InseqBridge.Native.Tests.Attribution;

/// <summary>
/// The output assembler on hand-built step records: shapes, token lists, the placement of attributions and step
/// scores per row (left padding, finished rows), and contrastive display tokens. No model, no tensors.
/// </summary>
public class AttributionOutputAssemblerTests
{
    private const string Pad = "<pad>";

    /// <summary>
    /// Decoder-only, left-padded: row 0 = prompt "A B" + generated "C D"; row 1 = prompt "E" + generated "F G".
    /// Steps 2 and 3 (both rows active), target attributions with one value per position.
    /// </summary>
    private static EncodedTexts DecoderOnlyTargets() => new()
    {
        Ids = [[1, 2, 3, 4], [0, 5, 6, 7]],
        Mask = [[1, 1, 1, 1], [0, 1, 1, 1]],
        Baseline = [[9, 9, 9, 9], [9, 9, 9, 9]],
        Tokens = [["A", "B", "C", "D"], [Pad, "E", "F", "G"]],
    };

    private static StepRecord Record(int position, int[] rows, float[][]? source = null, float[][]? target = null, (string Id, float[] Values)[]? scores = null)
    {
        var record = new StepRecord { Position = position, Rows = rows, Source = source, Target = target };
        foreach (var (id, values) in scores ?? [])
        {
            record.Scores[id] = values;
        }

        return record;
    }

    private static StepExecutionResult DecoderOnlyResult() => new(
        [
            Record(2, [0, 1], target: [[20, 21], [120, 121]], scores: [("probability", [0.1f, 0.2f])]),
            Record(3, [0, 1], target: [[30, 31, 32], [130, 131, 132]], scores: [("probability", [0.3f, 0.4f])]),
        ],
        [1],
        []);

    private static OutputAssemblyInputs DecoderOnlyInputs() => new()
    {
        Targets = DecoderOnlyTargets(),
        EncoderDecoder = false,
        PadToken = Pad,
        StepScoreIds = ["probability"],
        Kind = AttributionKind.Granular,
    };

    private static float[,] Matrix(NdArray array)
    {
        var m = new float[array.Shape[0], array.Shape[1]];
        for (int i = 0; i < array.Shape[0]; i++)
        {
            for (int j = 0; j < array.Shape[1]; j++)
            {
                m[i, j] = array[i, j, 0];
            }
        }

        return m;
    }

    [Fact]
    public void Decoder_only_sequences_drop_padding_and_split_prompt_from_target()
    {
        var sequences = new AttributionOutputAssembler(DecoderOnlyInputs()).BuildSequences(DecoderOnlyResult(), end: 4);

        Assert.Equal(2, sequences.Count);
        Assert.Equal(["A", "B", "C", "D"], sequences[0].Target.Select(t => t.Token));
        Assert.Equal(["E", "F", "G"], sequences[1].Target.Select(t => t.Token));
        Assert.Equal([5, 6, 7], sequences[1].Target.Select(t => t.Id));
        Assert.Equal(["A", "B"], sequences[0].Source.Select(t => t.Token));
        Assert.Equal(["E"], sequences[1].Source.Select(t => t.Token));
        Assert.Equal((2, 4), (sequences[0].AttrPosStart, sequences[0].AttrPosEnd));
        Assert.Equal((1, 3), (sequences[1].AttrPosStart, sequences[1].AttrPosEnd));
        Assert.Null(sequences[0].SourceAttributions);
    }

    [Fact]
    public void Decoder_only_target_attributions_are_shifted_by_left_padding_with_nan_outside_each_prefix()
    {
        var sequences = new AttributionOutputAssembler(DecoderOnlyInputs()).BuildSequences(DecoderOnlyResult(), end: 4);

        // [target positions, steps, 1]: column k is step k's prefix; one NaN row past the last prefix position.
        Assert.Equal([4, 2, 1], sequences[0].TargetAttributions!.Shape);
        Assert.Equal(new float[,] { { 20, 30 }, { 21, 31 }, { float.NaN, 32 }, { float.NaN, float.NaN } }, Matrix(sequences[0].TargetAttributions!));

        // Row 1 starts one position later in the padded batch: its first column is the pad position, dropped.
        Assert.Equal([3, 2, 1], sequences[1].TargetAttributions!.Shape);
        Assert.Equal(new float[,] { { 121, 131 }, { float.NaN, 132 }, { float.NaN, float.NaN } }, Matrix(sequences[1].TargetAttributions!));
    }

    [Fact]
    public void Step_scores_of_a_sequence_are_its_rows_values_in_step_order()
    {
        var sequences = new AttributionOutputAssembler(DecoderOnlyInputs()).BuildSequences(DecoderOnlyResult(), end: 4);

        Assert.Equal(["probability"], sequences[0].StepScores.Keys);
        Assert.Equal([0.1f, 0.3f], sequences[0].StepScores["probability"].ToArray());
        Assert.Equal([0.2f, 0.4f], sequences[1].StepScores["probability"].ToArray());
        Assert.Equal([2], sequences[1].StepScores["probability"].Shape);
    }

    [Fact]
    public void Convergence_deltas_come_before_the_requested_step_scores()
    {
        StepExecutionResult result = new(
            [
                Record(2, [0, 1], target: [[20, 21], [120, 121]], scores: [("probability", [0.1f, 0.2f]), ("deltas", [1f, 2f])]),
                Record(3, [0, 1], target: [[30, 31, 32], [130, 131, 132]], scores: [("probability", [0.3f, 0.4f]), ("deltas", [3f, 4f])]),
            ],
            [1],
            []);
        var assembler = new AttributionOutputAssembler(DecoderOnlyInputs() with { OutputStepAttributions = true });

        FeatureAttributionOutput output = assembler.Assemble(result, 4, new JsonObject());

        Assert.Equal(["deltas", "probability"], output.SequenceAttributions[0].StepScores.Keys);
        Assert.Equal([2f, 4f], output.SequenceAttributions[1].StepScores["deltas"].ToArray());
        Assert.Equal(["deltas", "probability"], output.StepAttributions![1].StepScores.Keys);
    }

    /// <summary>
    /// Encoder-decoder whose decoder start token is the pad token: row 1 finishes one step early (its last target is
    /// padding). Sources "a b &lt;/s&gt;" and "c &lt;/s&gt; &lt;pad&gt;"; steps 1..3, source attributions of width 2.
    /// </summary>
    private static (OutputAssemblyInputs Inputs, StepExecutionResult Result) EncoderDecoderBatch()
    {
        var targets = new EncodedTexts
        {
            Ids = [[0, 10, 11, 2], [0, 12, 2, 0]],
            Mask = [[1, 1, 1, 1], [1, 1, 1, 0]],
            Baseline = [[0, 3, 3, 2], [0, 3, 2, 3]],
            Tokens = [[Pad, "x", "y", "</s>"], [Pad, "z", "</s>", Pad]],
        };
        var sources = new EncodedTexts
        {
            Ids = [[20, 21, 2], [22, 2, 0]],
            Mask = [[1, 1, 1], [1, 1, 0]],
            Baseline = [[3, 3, 2], [3, 2, 3]],
            Tokens = [["a", "b", "</s>"], ["c", "</s>", Pad]],
        };

        // Source row values: step * 100 + batch row * 10 + position, then its negation (the two hidden units).
        float[] SourceRow(int step, int row) => [.. Enumerable.Range(0, 3).SelectMany(i => new float[] { (step * 100) + (row * 10) + i, -((step * 100) + (row * 10) + i) })];
        StepExecutionResult result = new(
            [
                Record(1, [0, 1], source: [SourceRow(1, 0), SourceRow(1, 1)], scores: [("probability", [0.1f, 0.2f])]),
                Record(2, [0, 1], source: [SourceRow(2, 0), SourceRow(2, 1)], scores: [("probability", [0.3f, 0.4f])]),
                Record(3, [0], source: [SourceRow(3, 0)], scores: [("probability", [0.5f])]),
            ],
            [2],
            []);
        var inputs = new OutputAssemblyInputs
        {
            Targets = targets,
            Sources = sources,
            EncoderDecoder = true,
            PadToken = Pad,
            StepScoreIds = ["probability"],
            Kind = AttributionKind.Granular,
            OutputStepAttributions = true,
        };
        return (inputs, result);
    }

    [Fact]
    public void Encoder_decoder_keeps_a_pad_decoder_start_token_and_drops_trailing_padding()
    {
        var (inputs, result) = EncoderDecoderBatch();

        var sequences = new AttributionOutputAssembler(inputs).BuildSequences(result, end: 4);

        Assert.Equal([Pad, "x", "y", "</s>"], sequences[0].Target.Select(t => t.Token));
        Assert.Equal([Pad, "z", "</s>"], sequences[1].Target.Select(t => t.Token));
        Assert.Equal(["a", "b", "</s>"], sequences[0].Source.Select(t => t.Token));
        Assert.Equal(["c", "</s>"], sequences[1].Source.Select(t => t.Token));
        Assert.Equal((1, 4), (sequences[0].AttrPosStart, sequences[0].AttrPosEnd));
        Assert.Equal((1, 3), (sequences[1].AttrPosStart, sequences[1].AttrPosEnd));
        Assert.Null(sequences[0].TargetAttributions);
    }

    [Fact]
    public void Encoder_decoder_source_attributions_are_source_by_step_and_leave_out_finished_steps()
    {
        var (inputs, result) = EncoderDecoderBatch();

        var sequences = new AttributionOutputAssembler(inputs).BuildSequences(result, end: 4);

        NdArray row0 = sequences[0].SourceAttributions!;
        Assert.Equal([3, 3, 2], row0.Shape);
        Assert.Equal(302f, row0[2, 2, 0]);
        Assert.Equal(-201f, row0[1, 1, 1]);
        Assert.Equal(100f, row0[0, 0, 0]);

        // Row 1 has two steps (it finished before step 3) and two source tokens (its padding dropped).
        NdArray row1 = sequences[1].SourceAttributions!;
        Assert.Equal([2, 2, 2], row1.Shape);
        Assert.Equal(211f, row1[1, 1, 0]);
        Assert.Equal(-110f, row1[0, 0, 1]);
        Assert.Equal([0.2f, 0.4f], sequences[1].StepScores["probability"].ToArray());
        Assert.Equal([0.1f, 0.3f, 0.5f], sequences[0].StepScores["probability"].ToArray());
    }

    [Fact]
    public void Step_outputs_cover_every_row_with_nan_for_finished_rows()
    {
        var (inputs, result) = EncoderDecoderBatch();

        var steps = new AttributionOutputAssembler(inputs).BuildSteps(result.Records, result.InnerShape);

        Assert.Equal(3, steps.Count);
        FeatureAttributionStepOutput last = steps[2];
        Assert.Equal([2, 3, 2], last.SourceAttributions!.Shape);
        Assert.Equal(300f, last.SourceAttributions[0, 0, 0]);
        Assert.All(Enumerable.Range(0, 6), i => Assert.True(float.IsNaN(last.SourceAttributions.Span[6 + i])));
        Assert.Equal(0.5f, last.StepScores["probability"][0]);
        Assert.True(float.IsNaN(last.StepScores["probability"][1]));

        // Step tokens keep padding: the prefix is every position before the step, the target the token at it.
        Assert.Equal([Pad, "z", "</s>"], last.Prefix[1].Select(t => t.Token));
        Assert.Equal([Pad], last.Target[1].Select(t => t.Token));
        Assert.Equal(["c", "</s>", Pad], last.Source![1].Select(t => t.Token));
        Assert.Null(last.TargetAttributions);
    }

    [Fact]
    public void Assemble_returns_steps_only_when_requested_and_keeps_the_given_info()
    {
        var (inputs, result) = EncoderDecoderBatch();
        var info = new JsonObject { ["attribution_method"] = "saliency" };

        FeatureAttributionOutput without = new AttributionOutputAssembler(inputs with { OutputStepAttributions = false }).Assemble(result, 4, info);
        FeatureAttributionOutput with = new AttributionOutputAssembler(inputs).Assemble(result, 4, new JsonObject());

        Assert.Null(without.StepAttributions);
        Assert.Same(info, without.Info);
        Assert.Equal(3, with.StepAttributions!.Count);
        Assert.Equal(2, with.SequenceAttributions.Count);
    }

    [Fact]
    public void Sequence_scores_are_built_per_row_with_its_source_length_and_step_count()
    {
        var (inputs, result) = EncoderDecoderBatch();
        SequenceScore probe = new("probe", (b, s, n) => new NdArray([b, s, n], 3));

        var sequences = new AttributionOutputAssembler(inputs).BuildSequences(result with { SequenceScores = [probe] }, end: 4);

        Assert.Equal([0f, 3f, 3f], sequences[0].SequenceScores["probe"].ToArray());
        Assert.Equal([1f, 2f, 2f], sequences[1].SequenceScores["probe"].ToArray());
    }

    [Fact]
    public void Kind_and_dimensions_are_the_given_ones_on_every_output()
    {
        var (inputs, result) = EncoderDecoderBatch();

        FeatureAttributionOutput output = new AttributionOutputAssembler(inputs with { Kind = AttributionKind.MultiDimensional, NumDimensions = 1 })
            .Assemble(result, 4, new JsonObject());

        Assert.All(output.SequenceAttributions, s => Assert.Equal((AttributionKind.MultiDimensional, (int?)1), (s.Kind, s.NumDimensions)));
        Assert.All(output.StepAttributions!, s => Assert.Equal(AttributionKind.MultiDimensional, s.Kind));
    }

    [Fact]
    public void Contrastive_targets_show_differing_aligned_tokens_as_contrast_arrow_original()
    {
        var targets = new EncodedTexts
        {
            Ids = [[1, 2, 3]],
            Mask = [[1, 1, 1]],
            Baseline = [[9, 9, 9]],
            Tokens = [["The", "cat", "sat"]],
        };
        var inputs = new OutputAssemblyInputs
        {
            Targets = targets,
            EncoderDecoder = false,
            PadToken = Pad,
            ContrastTokens = [["The", "dog", "sat"]],
            ContrastPairs = [[new AlignmentPair(0, 0), new AlignmentPair(1, 1), new AlignmentPair(2, 2)]],
            StepScoreIds = [],
            Kind = AttributionKind.Granular,
        };
        StepExecutionResult result = new([Record(1, [0], target: [[1]]), Record(2, [0], target: [[1, 2]])], [1], []);

        var sequence = new AttributionOutputAssembler(inputs).BuildSequences(result, end: 3)[0];

        Assert.Equal(["The", "dog → cat", "sat"], sequence.Target.Select(t => t.Token));
        Assert.Equal([1, -1, 3], sequence.Target.Select(t => t.Id));
        Assert.Equal(["The"], sequence.Source.Select(t => t.Token));
        Assert.Empty(sequence.StepScores);
    }
}
