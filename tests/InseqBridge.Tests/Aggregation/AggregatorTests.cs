using InseqBridge.Aggregation;
using InseqBridge.Data;

namespace InseqBridge.Tests.Aggregation;

public class AggregatorTests
{
    private static IReadOnlyList<TokenWithId> Tokens(params string[] t) => t.Select((s, i) => new TokenWithId(s, i)).ToList();

    // Encoder-decoder: 3 source tokens, target "<s> A B" with attr_pos_start 1 → 2 steps.
    private static FeatureAttributionSequenceOutput Coarse() => new()
    {
        Source = Tokens("▁Hel", "lo", "▁world"),
        Target = Tokens("<s>", "▁A", "b"),
        SourceAttributions = new NdArray([0.1f, 0.2f, -0.5f, 0.3f, 0.4f, 0.0f], 3, 2),
        StepScores = new Dictionary<string, NdArray> { ["probability"] = new NdArray([0.5f, 0.4f], 2), ["other"] = new NdArray([-3f, 2f], 2) },
        AttrPosStart = 1,
        AttrPosEnd = 3,
        Kind = AttributionKind.Coarse,
    };

    [Fact]
    public void Function_ids_and_absmax_keeps_sign()
    {
        Assert.Equal("vnorm", AggregationFunction.VNorm.Id());
        Assert.Equal(AggregationFunction.AbsMax, AggregationFunctions.Parse("absmax"));
        Assert.Equal(-0.7f, AggregationFunction.AbsMax.Apply([0.3f, -0.7f, float.NaN, 0.1f]));
        Assert.Equal(5f, AggregationFunction.VNorm.Apply([3f, 4f]));
        Assert.True(float.IsNaN(AggregationFunction.Max.Apply([1f, float.NaN])));
    }

    [Fact]
    public void Spans_merge_rows_with_absmax_and_tokens()
    {
        var s = new SpansAggregator(SourceSpans: [(0, 2)]).Aggregate(Coarse());
        Assert.Equal(["▁Hello", "▁world"], s.Source.Select(t => t.Token));
        Assert.Equal(-1, s.Source[0].Id);
        // rows 0,1 merged per step: absmax(0.1,-0.5) = -0.5, absmax(0.2,0.3) = 0.3
        Assert.Equal(new NdArray([-0.5f, 0.3f, 0.4f, 0f], 2, 2), s.SourceAttributions);
    }

    [Fact]
    public void Target_spans_merge_steps_and_step_scores_by_score_kind()
    {
        var s = new SpansAggregator(TargetSpans: [(1, 3)]).Aggregate(Coarse());
        Assert.Equal(["<s>", "▁Ab"], s.Target.Select(t => t.Token));
        Assert.Equal(1, s.AttrPosStart);
        Assert.Equal(2, s.AttrPosEnd);
        Assert.Equal(0.2f, s.StepScores["probability"].Span[0], 6); // prod 0.5*0.4
        Assert.Equal(-3f, s.StepScores["other"].Span[0]); // absmax
        Assert.Equal(new NdArray([0.2f, -0.5f, 0.4f], 3, 1), s.SourceAttributions); // absmax over steps
    }

    [Fact]
    public void Subword_spans_follow_the_boundary_symbol()
    {
        Assert.Equal([(0, 2)], SubwordAggregator.GetSpans(Tokens("▁Hel", "lo", "▁world"), ["▁"], false));
        Assert.Equal([(1, 3)], SubwordAggregator.GetSpans(Tokens("Hello", "Ġwor", "ld", "Ġx"), ["Ġ"], false));

        // Inseq's quirk, kept for parity: a word ending the sequence never includes its last piece.
        Assert.Equal([(0, 2)], SubwordAggregator.GetSpans(Tokens("phen", "##omen", "##al"), ["##"], true));
        Assert.Empty(SubwordAggregator.GetSpans(Tokens("a", "b"), ["▁"], false));
        var s = new SubwordAggregator(AggregateTarget: false).Aggregate(Coarse());
        Assert.Equal(["▁Hello", "▁world"], s.Source.Select(t => t.Token));
    }

    [Fact]
    public void Split_groups_between_separators()
    {
        var tokens = Tokens("a", "b", ".", "c", "d");
        var regex = new System.Text.RegularExpressions.Regex("^\\.$");
        Assert.Equal([(0, 2), (3, 5)], StringSplitAggregator.GetSpans(tokens, regex, SplitMode.Single));
        Assert.Equal([(0, 3), (3, 5)], StringSplitAggregator.GetSpans(tokens, regex, SplitMode.End));
        Assert.Equal([(0, 2), (2, 5)], StringSplitAggregator.GetSpans(tokens, regex, SplitMode.Start));
    }

    [Fact]
    public void Pair_subtracts_and_marks_differing_tokens()
    {
        var a = Coarse();
        var b = a with { Source = Tokens("▁Hel", "lo", "▁there"), SourceAttributions = a.SourceAttributions!.Map(v => v * 2) };
        var s = new PairAggregator(b).Aggregate(a);
        Assert.Equal("▁world → ▁there", s.Source[2].Token);
        Assert.Equal(-1, s.Source[2].Id);
        Assert.Equal(a.SourceAttributions, s.SourceAttributions);
        Assert.Equal(0f, s.StepScores["probability"].Span[0]);
    }

    [Fact]
    public void Slices_keep_requested_tokens()
    {
        var s = new SliceAggregator(SourceSpan: (1, 3)).Aggregate(Coarse());
        Assert.Equal(["lo", "▁world"], s.Source.Select(t => t.Token));
        Assert.Equal(new NdArray([-0.5f, 0.3f, 0.4f, 0f], 2, 2), s.SourceAttributions);
    }

    [Fact]
    public void Scores_normalises_columns_over_source_and_target_ignoring_nan()
    {
        var seq = Coarse() with
        {
            SourceAttributions = new NdArray([1f, 2f, 3f, 4f], 2, 1, 2),
            TargetAttributions = new NdArray([1f, float.NaN, 0f, 0f, 0f, 0f], 3, 1, 2),
            Source = Tokens("a", "b"),
            AttrPosEnd = 2,
        };
        var s = new ScoresAggregator(AggregationFunction.Sum).Aggregate(seq);
        // sums over the last dim: src 3, 7; tgt NaN (masked), 0, 0 → column norm 10
        Assert.True(new NdArray([0.3f, 0.7f], 2, 1).AllClose(s.SourceAttributions!));
        Assert.True(float.IsNaN(s.TargetAttributions![0, 0]));
    }

    [Fact]
    public void Pipeline_order_matters()
    {
        var seq = Coarse();
        var spansThenSlice = seq.Aggregate(new SpansAggregator(SourceSpans: [(0, 2)]), new SliceAggregator(SourceSpan: (1, 2)));
        var sliceThenSpans = seq.Aggregate(new SliceAggregator(SourceSpan: (1, 3)), new SpansAggregator(SourceSpans: [(0, 2)]));
        Assert.Equal(["▁world"], spansThenSlice.Source.Select(t => t.Token));
        Assert.Equal(["lo▁world"], sliceThenSpans.Source.Select(t => t.Token));
    }
}
