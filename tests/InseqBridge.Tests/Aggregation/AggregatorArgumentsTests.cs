using System.Text.Json;
using System.Text.Json.Nodes;
using InseqBridge.Aggregation;
using InseqBridge.Data;
using InseqBridge.Errors;

namespace InseqBridge.Tests.Aggregation;

/// <summary>
/// Aggregator pipelines with Inseq's keyword arguments, against the aggregations real Inseq 0.6.0 computed in
/// tests/fixtures/attribute-options (python/reference/make_attribute_options_cases.py): agg_base.json aggregated
/// as agg_manifest.json lists.
/// </summary>
public class AggregatorArgumentsTests
{
    private static string Dir => Path.GetFullPath(Path.Combine(ParityFixtures.Root, "..", "attribute-options"));

    private static FeatureAttributionSequenceOutput Base => FeatureAttributionOutput.Load(Path.Combine(Dir, "agg_base.json")).SequenceAttributions[0];

    /// <summary>1e-5 of the largest operand of the pair differences (their scores aggregation).</summary>
    private static double PairTolerance => 1e-5 * new[] { Base.Aggregate(new ScoresAggregator()), Paired.Aggregate(new ScoresAggregator()) }
        .SelectMany(s => s.SourceAttributions!.ToArray().Concat(s.TargetAttributions!.ToArray()))
        .Where(v => !float.IsNaN(v)).Max(Math.Abs);

    private static FeatureAttributionSequenceOutput Paired => FeatureAttributionOutput.Load(Path.Combine(Dir, "agg_paired.json")).SequenceAttributions[0];

    public static TheoryData<string> ManifestCases()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "agg_manifest.json")));
        var data = new TheoryData<string>();
        foreach (JsonProperty p in doc.RootElement.EnumerateObject())
        {
            data.Add(p.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ManifestCases))]
    public void Pipeline_with_arguments_matches_inseq(string name)
    {
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(Dir, "agg_manifest.json")))![name]!.AsObject();
        var ids = manifest["aggregator"]!.AsArray().Select(x => x!.GetValue<string>()).ToList();
        var functions = manifest["aggregate_fn"]?.AsArray().Select(x => x!.GetValue<string>()).ToList();
        var arguments = manifest["args"]!.AsObject();
        if (arguments.ContainsKey("paired_attr"))
        {
            arguments["paired_attr"] = Path.Combine(Dir, "agg_paired.json");
        }

        IAggregator[] pipeline = AggregatorArguments.Parse(ids, functions, arguments);
        FeatureAttributionSequenceOutput actual = Base.Aggregate(pipeline);
        FeatureAttributionSequenceOutput expected = FeatureAttributionOutput.Load(Path.Combine(Dir, $"agg_{name}.json")).SequenceAttributions[0];
        AssertSame(expected, actual, name == "pair" ? PairTolerance : null);
    }

    [Fact]
    public void Rescale_divides_by_the_largest_magnitude_of_the_unnormalized_scores()
    {
        // Inseq 0.7's rescale: scores / max|scores| over source and target together (NaN kept).
        NdArray src = FeatureAttributionOutput.Load(Path.Combine(Dir, "agg_scores_unnormalized.json")).SequenceAttributions[0].SourceAttributions!;
        NdArray tgt = FeatureAttributionOutput.Load(Path.Combine(Dir, "agg_scores_unnormalized.json")).SequenceAttributions[0].TargetAttributions!;
        float max = src.ToArray().Concat(tgt.ToArray()).Where(v => !float.IsNaN(v)).Max(Math.Abs);
        var rescaled = Base.Aggregate(AggregatorArguments.Parse(["scores"], null, new JsonObject { ["rescale"] = true }));
        Assert.True(src.Map(v => v / max).AllClose(rescaled.SourceAttributions!, 1e-5, 1e-7));
        Assert.True(tgt.Map(v => v / max).AllClose(rescaled.TargetAttributions!, 1e-5, 1e-7));
        Assert.Equal(1f, rescaled.SourceAttributions!.ToArray().Concat(rescaled.TargetAttributions!.ToArray()).Where(v => !float.IsNaN(v)).Max(Math.Abs), 5);
    }

    [Fact]
    public void Scaled_default_pipeline_normalizes_as_inseq_and_rescales_on_request()
    {
        FeatureAttributionSequenceOutput normalized = Base.Aggregate(new ScaledAggregation([], Normalize: true, Rescale: false));
        AssertSame(Base.Aggregate(), normalized);
        FeatureAttributionSequenceOutput rescaled = Base.Aggregate(new ScaledAggregation([], Normalize: false, Rescale: true));
        Assert.Equal(1f, rescaled.SourceAttributions!.ToArray().Concat(rescaled.TargetAttributions!.ToArray()).Where(v => !float.IsNaN(v)).Max(Math.Abs), 5);
        Assert.Throws<InvalidRequestException>(() => AggregatorArguments.WithScaling([], Base, normalize: true, rescale: true));
    }

    [Fact]
    public void Slices_by_arguments_and_by_range_keep_the_source_rows_inseq_keeps()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "slices_source_1_4.json")));
        var tokens = doc.RootElement.GetProperty("source").EnumerateArray().Select(x => x.GetString()).ToList();
        float[] rows = [.. doc.RootElement.GetProperty("source_attributions").EnumerateArray().SelectMany(r => r.EnumerateArray()).Select(v => v.ValueKind == JsonValueKind.Number ? v.GetSingle() : float.NaN)];
        FeatureAttributionSequenceOutput aggregated = Base.Aggregate();

        FeatureAttributionSequenceOutput byArguments = aggregated.Aggregate(AggregatorArguments.Parse(["slices"], null, new JsonObject { ["source_spans"] = "1:4" }));
        FeatureAttributionSequenceOutput byRange = aggregated[1..4];
        foreach (FeatureAttributionSequenceOutput sliced in new[] { byArguments, byRange })
        {
            Assert.Equal(tokens, sliced.Source.Select(t => t.Token));
            Assert.True(new NdArray(rows, 3, aggregated.StepCount).AllClose(sliced.SourceAttributions!, 1e-6, 1e-9));
        }

        // Inseq 0.7 slicing of an encoder-decoder output keeps only the generated target tokens.
        Assert.Equal(aggregated.Target.Skip(aggregated.AttrPosStart), byRange.Target);
        Assert.Equal(aggregated.StepCount, byRange.StepCount);
    }

    [Fact]
    public void Subtraction_is_inseqs_pair_aggregation()
    {
        // Inseq: a - b == a.aggregate("pair", paired_attr=b), whose values are b - a.
        FeatureAttributionSequenceOutput expected = FeatureAttributionOutput.Load(Path.Combine(Dir, "agg_pair.json")).SequenceAttributions[0];
        FeatureAttributionSequenceOutput difference = Base.Aggregate(new ScoresAggregator()) - Paired.Aggregate(new ScoresAggregator());
        AssertSame(expected, difference, PairTolerance);
        Assert.Contains(difference.Source, t => t.Token.Contains(" → ", StringComparison.Ordinal) && t.Id == -1);

        var a = new FeatureAttributionOutput { SequenceAttributions = [Base.Aggregate(new ScoresAggregator())] };
        var b = new FeatureAttributionOutput { SequenceAttributions = [Paired.Aggregate(new ScoresAggregator())] };
        AssertSame(expected, (a - b)[0], PairTolerance);
        Assert.Throws<ArgumentException>(() => a - new FeatureAttributionOutput { SequenceAttributions = [] });
    }

    [Fact]
    public void Output_indexing_follows_python_list_indexing()
    {
        var output = new FeatureAttributionOutput { SequenceAttributions = [Base, Paired, Base] };
        Assert.Equal(3, output.Count);
        Assert.Same(Paired.Source.GetType(), output[1].Source.GetType());
        Assert.Equal(output.SequenceAttributions[2], output[^1]);
        Assert.Equal(output.SequenceAttributions.Skip(1), output[1..].SequenceAttributions);
        Assert.Empty(output[3..].SequenceAttributions);
    }

    [Theory]
    [InlineData("{\"target_span\": [[1, 3]]}", "spans", "'target_span' is taken by no aggregator")]
    [InlineData("{\"target_spans\": [[3, 1]]}", "spans", "target_spans must be [start, end]")]
    [InlineData("{\"target_spans\": \"1-3\"}", "spans", "target_spans must be [start, end]")]
    [InlineData("{}", "split", "needs split_pattern")]
    [InlineData("{\"split_pattern\": \"(\"}", "split", "not a valid regular expression")]
    [InlineData("{\"split_pattern\": \"x\", \"split_mode\": \"middle\"}", "split", "split_mode must be single, start or end")]
    [InlineData("{}", "pair", "needs paired_attr")]
    [InlineData("{\"source_spans\": \"4:1\"}", "slices", "\"start:end\"")]
    [InlineData("{\"special_chars\": 3}", "subwords", "special_chars must be a string")]
    [InlineData("{\"normalize\": \"yes\"}", "scores", "normalize must be true or false")]
    [InlineData("{\"aggregate_fn\": \"max\"}", "scores", "--aggregate-fn")]
    public void Bad_arguments_fail_with_a_one_line_message(string json, string id, string expected)
    {
        var e = Assert.Throws<InvalidRequestException>(() => AggregatorArguments.Parse([id], null, JsonNode.Parse(json)!.AsObject()));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Split_by_arguments_equals_spans_between_separators()
    {
        FeatureAttributionSequenceOutput aggregated = Base.Aggregate();
        var split = aggregated.Aggregate(AggregatorArguments.Parse(["split"], null, new JsonObject { ["split_pattern"] = "^▁to$", ["split_mode"] = "end", ["aggregate_target"] = false }));
        var spans = StringSplitAggregator.GetSpans(aggregated.Source, new System.Text.RegularExpressions.Regex("^▁to$"), SplitMode.End);
        Assert.NotEmpty(spans);
        AssertSame(aggregated.Aggregate(new SpansAggregator(SourceSpans: spans)), split);
    }

    // atol: default 1e-6 of the largest expected magnitude. Pair differences take one relative to their operands
    // (a difference of nearly equal float32 values keeps their absolute error).
    private static void AssertSame(FeatureAttributionSequenceOutput expected, FeatureAttributionSequenceOutput actual, double? atol = null)
    {
        Assert.Equal(expected.Source.Select(t => (t.Token, t.Id)), actual.Source.Select(t => (t.Token, t.Id)));
        Assert.Equal(expected.Target.Select(t => (t.Token, t.Id)), actual.Target.Select(t => (t.Token, t.Id)));
        Assert.Equal(expected.AttrPosStart, actual.AttrPosStart);
        Assert.Equal(expected.AttrPosEnd, actual.AttrPosEnd);
        Close(expected.SourceAttributions, actual.SourceAttributions, "source_attributions", atol);
        Close(expected.TargetAttributions, actual.TargetAttributions, "target_attributions", atol);
        Assert.Equal(expected.StepScores.Keys.Order(), actual.StepScores.Keys.Order());
        foreach (string key in expected.StepScores.Keys)
        {
            Close(expected.StepScores[key], actual.StepScores[key], key, atol);
        }
    }

    private static void Close(NdArray? expected, NdArray? actual, string what, double? atol = null)
    {
        Assert.Equal(expected is null, actual is null);
        if (expected is null)
        {
            return;
        }

        double scale = expected.ToArray().Where(v => !float.IsNaN(v)).Select(v => Math.Abs((double)v)).DefaultIfEmpty(0).Max();
        Assert.True(expected.AllClose(actual!, 1e-5, atol ?? 1e-6 * scale), $"{what}: {actual} differs from {expected}");
    }
}
