using System.Text.Json.Nodes;
using InseqBridge.Data;
using InseqBridge.Serialization;
using InseqBridge.Tests.Visualization;

namespace InseqBridge.Tests.Data;

/// <summary>
/// get_scores_dicts as Inseq 0.6.0 defines it (inseq/data/attribution.py): aggregate with the default pipeline,
/// then for tgt_idx in range(attr_pos_start, attr_pos_end): source[(s, tok)] = source_attributions[s, tgt_idx -
/// attr_pos_start] over all source tokens, target[(t, tok)] = target_attributions[t, tgt_idx - attr_pos_start] for t
/// in range(attr_pos_end), step_scores[id] = step_score[tgt_idx - attr_pos_start]. The expected numbers come from
/// the arrays Python Inseq itself aggregated (the .aggregated.json fixtures).
/// </summary>
public class ScoresDictsTests
{
    [Theory]
    [InlineData("bart__input_x_gradient__forced")]
    [InlineData("bart__saliency__forced__attr_pos_2_4")]
    [InlineData("bart__saliency__forced__attribute_target")]
    [InlineData("bart__attention__forced")]
    [InlineData("gpt2__saliency__generated")]
    [InlineData("gpt2__integrated_gradients__forced")]
    public void Raw_output_gives_the_python_aggregated_scores(string caseId)
    {
        FeatureAttributionOutput raw = InseqJson.Load(Path.Combine(ParityFixtures.Attributions, caseId + ".json"));
        FeatureAttributionOutput aggregated = InseqJson.Load(Path.Combine(ParityFixtures.Attributions, caseId + ".aggregated.json"));
        IReadOnlyList<SequenceScoresDict> dicts = raw.GetScoresDicts();
        Assert.Equal(raw.SequenceAttributions.Count, dicts.Count);
        for (int i = 0; i < dicts.Count; i++)
        {
            FeatureAttributionSequenceOutput python = aggregated.SequenceAttributions[i];
            SequenceScoresDict d = dicts[i];
            int start = python.AttrPosStart, end = Math.Min(python.AttrPosEnd, python.Target.Count);
            var expectedKeys = Enumerable.Range(start, end - start).Select(t => new TokenKey(t, python.Target[t].Token)).ToList();
            Assert.Equal(expectedKeys, d.StepScores.Keys);
            Assert.Equal(python.SourceAttributions is null ? [] : expectedKeys, d.SourceAttributions.Keys);
            Assert.Equal(python.TargetAttributions is null ? [] : expectedKeys, d.TargetAttributions.Keys);
            foreach (TokenKey key in expectedKeys)
            {
                int column = key.Position - start;
                if (python.SourceAttributions is { } src)
                {
                    var inner = d.SourceAttributions[key];
                    Assert.Equal(python.Source.Select((tok, s) => new TokenKey(s, tok.Token)), inner.Keys);
                    foreach (var (k, v) in inner)
                    {
                        AssertClose(src[k.Position, column], v);
                    }
                }

                if (python.TargetAttributions is { } tgt)
                {
                    var inner = d.TargetAttributions[key];
                    Assert.Equal(Enumerable.Range(0, end).Select(t => new TokenKey(t, python.Target[t].Token)), inner.Keys);
                    foreach (var (k, v) in inner)
                    {
                        AssertClose(tgt[k.Position, column], v);
                    }
                }

                Assert.Equal(python.StepScores.Keys, d.StepScores[key].Keys);
                foreach (var (id, v) in d.StepScores[key])
                {
                    AssertClose(python.StepScores[id][column], v);
                }
            }
        }
    }

    [Fact]
    public void Without_aggregation_the_values_are_read_as_stored()
    {
        FeatureAttributionOutput hand = RenderingFixtures.HandMade();
        SequenceScoresDict d = hand.GetScoresDicts(doAggregation: false)[0];
        // attr_pos 1..3 over target <s> Ġx ▁y; source scores [3, 2], target scores [3, 2].
        Assert.Equal([new TokenKey(1, "\u0120x"), new TokenKey(2, "\u2581y")], d.SourceAttributions.Keys);
        Assert.Equal(-0.5, d.SourceAttributions[new TokenKey(1, "\u0120x")][new TokenKey(0, "<b>")]);
        Assert.Equal(0.5, d.SourceAttributions[new TokenKey(2, "\u2581y")][new TokenKey(2, "\"q\"")]);
        Assert.Equal(3, d.TargetAttributions[new TokenKey(1, "\u0120x")].Count); // range(attr_pos_end)
        Assert.True(double.IsNaN(d.TargetAttributions[new TokenKey(1, "\u0120x")][new TokenKey(2, "\u2581y")]));
        Assert.Equal((double)0.1f, d.StepScores[new TokenKey(2, "\u2581y")]["probability"]); // float32 widened, as .item()
    }

    [Fact]
    public void Step_scores_hold_an_empty_dictionary_per_token_when_there_are_none()
    {
        FeatureAttributionOutput hand = RenderingFixtures.HandMade();
        var sequence = hand.SequenceAttributions[0] with { StepScores = new Dictionary<string, NdArray>(), TargetAttributions = null };
        SequenceScoresDict d = sequence.GetScoresDicts(doAggregation: false);
        Assert.Equal(2, d.StepScores.Count);
        Assert.All(d.StepScores.Values, v => Assert.Empty(v));
        Assert.Empty(d.TargetAttributions);
    }

    [Fact]
    public void Json_keys_are_python_tuple_reprs()
    {
        string json = ScoresDicts.ToJson(RenderingFixtures.HandMade().GetScoresDicts(doAggregation: false));
        var root = JsonNode.Parse(json.Replace("NaN", "null", StringComparison.Ordinal))!.AsArray();
        JsonObject source = root[0]!["source_attributions"]!.AsObject();
        Assert.Equal(["(1, '\u0120x')", "(2, '\u2581y')"], source.Select(kv => kv.Key));
        Assert.Equal(["(0, '<b>')", "(1, 'a&b')", "(2, '\"q\"')"], source["(1, '\u0120x')"]!.AsObject().Select(kv => kv.Key));
        Assert.Equal(0.1f, (float)root[0]!["step_scores"]!["(2, '\u2581y')"]!["probability"]!.GetValue<double>());
        Assert.Contains("NaN", json, StringComparison.Ordinal); // Python's json writes NaN for missing target scores
    }

    [Theory]
    [InlineData("abc", "'abc'")]
    [InlineData("it's", "\"it's\"")]
    [InlineData("a\"b", "'a\"b'")]
    [InlineData("both'\"", "'both\\'\"'")]
    [InlineData("back\\slash", "'back\\\\slash'")]
    [InlineData("\n\t", "'\\n\\t'")]
    [InlineData("\u0120x \u2581", "'\u0120x \u2581'")]
    [InlineData("\u0001", "'\\x01'")]
    [InlineData("\u200b", "'\\u200b'")]
    public void Python_repr_of_strings(string text, string expected) =>
        Assert.Equal(expected, ScoresDicts.PythonRepr(text));

    private static void AssertClose(float expected, double actual)
    {
        if (float.IsNaN(expected))
        {
            Assert.True(double.IsNaN(actual));
            return;
        }

        Assert.True(Math.Abs(expected - actual) <= (1e-4 * Math.Abs(expected)) + 1e-7, $"{expected} vs {actual}");
    }
}
