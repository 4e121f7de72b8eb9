using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Errors;

namespace InseqBridge.Tests.Attribution;

/// <summary>
/// Inseq's alignment rules (get_adjusted_alignments with fill_missing, get_aligned_idx, join_token_ids), with the
/// expected pairs derived by hand from those rules.
/// </summary>
public sealed class ContrastAlignmentTests
{
    private static AlignmentPair P(int original, int contrast) => new(original, contrast);

    [Fact]
    public void Missing_pairs_are_filled_right_aligned()
    {
        // Same lengths: the identity over the attributed positions.
        Assert.Equal([P(2, 2), P(3, 3), P(4, 4), P(5, 5), P(6, 6)], ContrastAlignment.Adjust(null, 7, 2, 7));

        // Longer contrast: the last attributed position maps to the last contrast token.
        Assert.Equal([P(1, 3), P(2, 4), P(3, 5)], ContrastAlignment.Adjust(null, 6, 1, 4));
    }

    [Fact]
    public void Short_contrast_maps_overflowing_positions_to_its_last_token()
    {
        // Contrast of 3 tokens, positions 2..6: 6→2, 5→1, then 3-3=0 is not > 0 so 4, 3, 2 → last (2).
        Assert.Equal([P(2, 2), P(3, 2), P(4, 2), P(5, 1), P(6, 2)], ContrastAlignment.Adjust(null, 3, 2, 7));
    }

    [Fact]
    public void Explicit_pairs_keep_one_per_position_preferring_unused_contrast_positions()
    {
        var pairs = new[] { P(2, 4), P(2, 3), P(3, 3), P(9, 1), P(4, 99), P(4, -1) };

        // 2: (2,3) and (2,4) sorted, (2,3) unused → (2,3). 3: only (3,3), already used → kept anyway.
        // 4: its pairs point outside the contrast → filled right-aligned: 5 - (5 - 4) = 4. 9 is outside [2, 5).
        Assert.Equal([P(2, 3), P(3, 3), P(4, 4)], ContrastAlignment.Adjust(pairs, 5, 2, 5));
    }

    [Fact]
    public void Aligned_index_follows_inseq()
    {
        var pairs = new[] { P(2, 5), P(2, 3), P(4, 1) };
        Assert.Equal(3, ContrastAlignment.AlignedIndex(2, pairs));
        Assert.Equal(1, ContrastAlignment.AlignedIndex(4, pairs));
        Assert.Equal(-1, ContrastAlignment.AlignedIndex(3, pairs));
        Assert.Equal(7, ContrastAlignment.AlignedIndex(7, []));
    }

    [Fact]
    public void Display_tokens_show_contrast_arrow_original_where_they_differ()
    {
        var original = new[] { new TokenWithId("A", 1), new TokenWithId("b", 2), new TokenWithId("c", 3) };
        var shown = ContrastAlignment.DisplayTokens(original, ["A", "x", "c"], [P(1, 1), P(2, 2)]);
        Assert.Equal([new TokenWithId("A", 1), new TokenWithId("x → b", -1), new TokenWithId("c", 3)], shown);
    }

    [Fact]
    public void Auto_alignment_matches_equal_tokens_and_pairs_the_differing_stretch()
    {
        string[] original = ["The", "Ġcat", "Ġsat", "Ġon", "Ġthe", "Ġmat"];
        string[] contrast = ["The", "Ġdog", "Ġsat", "Ġon", "Ġa", "Ġbig", "Ġmat"];
        var auto = ContrastAlignment.Auto(original, contrast, 1, 6);
        Assert.Equal([P(1, 1), P(2, 2), P(3, 3), P(4, 4), P(5, 6)], auto);

        // The adjusted alignment keeps them as they are (every position has a pair).
        Assert.Equal(auto, ContrastAlignment.Adjust(auto, contrast.Length, 1, 6));
    }

    [Theory]
    [InlineData("[[0,1],[2,3]]", false, 1)]
    [InlineData("[[[0,1]],[[2,3],[4,4]]]", false, 2)]
    [InlineData("auto", true, 0)]
    public void Alignments_parse_like_inseq_arguments(string text, bool auto, int lists)
    {
        var parsed = ContrastAlignments.Parse(text);
        Assert.Equal(auto, parsed.IsAuto);
        Assert.Equal(lists, parsed.PerSequence.Count);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("[[1,2,3]]")]
    [InlineData("[[1")]
    [InlineData("manual")]
    public void Malformed_alignments_are_typed_errors(string text)
    {
        var e = Assert.Throws<InvalidRequestException>(() => ContrastAlignments.Parse(text));
        Assert.Contains("contrast_targets_alignments", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_are_checked_against_the_request()
    {
        Assert.Throws<InvalidRequestException>(() => new ContrastOptions().Validate(1, false));
        Assert.Throws<InvalidRequestException>(() => new ContrastOptions { Targets = ["a", "b"] }.Validate(1, false));
        var sources = Assert.Throws<InvalidRequestException>(() => new ContrastOptions { Sources = ["a"] }.Validate(1, encoderDecoder: false));
        Assert.Contains("encoder-decoder", sources.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidRequestException>(() => new ContrastOptions { Sources = ["a"], Alignments = ContrastAlignments.Auto }.Validate(1, true));
        new ContrastOptions { Targets = ["a"], Alignments = ContrastAlignments.ForAll([P(0, 0)]) }.Validate(1, false);
    }

    [Theory]
    [InlineData("contrast_logits", typeof(ContrastLogits))]
    [InlineData("contrast_prob", typeof(ContrastProbability))]
    [InlineData("contrast_logits_diff", typeof(ContrastLogitsDifference))]
    [InlineData("contrast_prob_diff", typeof(ContrastProbabilityDifference))]
    [InlineData("pcxmi", typeof(Pcxmi))]
    [InlineData("kl_divergence", typeof(KlDivergence))]
    [InlineData("in_context_pvi", typeof(InContextPvi))]
    public void Contrastive_step_functions_have_inseq_ids(string id, Type type)
    {
        StepFunction fn = StepFunction.FromId(id);
        Assert.IsType(type, fn);
        Assert.Equal(id, fn.Id);
        Assert.Equal(id + "_fn", fn.FunctionName);
        Assert.IsAssignableFrom<ContrastiveStepFunction>(fn);
    }

    [Fact]
    public void Step_function_arguments_are_recorded_when_not_default()
    {
        var kl = (KlDivergence)StepFunction.FromId("kl_divergence", new Dictionary<string, string> { ["top_k"] = "5", ["top_p"] = "0.9" });
        Assert.Equal(5, kl.TopK);
        Assert.Equal(new Dictionary<string, object?> { ["top_k"] = 5, ["top_p"] = 0.9 }, kl.Arguments);
        Assert.True(((ContrastProbabilityDifference)StepFunction.FromId("contrast_prob_diff", new Dictionary<string, string> { ["logprob"] = "true" })).LogProb);
        Assert.Throws<InvalidRequestException>(() => StepFunction.FromId("pcxmi", new Dictionary<string, string> { ["top_k"] = "5" }));
    }
}
