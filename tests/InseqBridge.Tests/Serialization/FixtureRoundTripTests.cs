using System.Text;
using System.Text.Json;
using InseqBridge.Aggregation;
using InseqBridge.Data;
using InseqBridge.Serialization;

namespace InseqBridge.Tests.Serialization;

public class FixtureRoundTripTests
{
    public static IEnumerable<object[]> Cases => ParityFixtures.OkCases();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Raw_and_aggregated_files_load_with_manifest_shapes(string id)
    {
        JsonElement c = ParityFixtures.Case(id);
        CheckShapes(Load(c, "output_file"), c.GetProperty("shapes"));
        CheckShapes(Load(c, "aggregated_file"), c.GetProperty("aggregated_shapes"));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Resaving_a_loaded_fixture_is_byte_identical(string id)
    {
        JsonElement c = ParityFixtures.Case(id);
        foreach (string key in new[] { "output_file", "aggregated_file" })
        {
            string path = Path.Combine(ParityFixtures.Root, c.GetProperty(key).GetString()!);
            string original = File.ReadAllText(path, Encoding.UTF8);
            // The fixtures were written by Inseq 0.6 (numpy arrays), so re-save in that encoding.
            string resaved = InseqJson.Serialize(InseqJson.Load(path), new SaveOptions(Encoding: InseqJsonEncoding.Inseq06));
            Assert.Equal(original, resaved);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Default_aggregation_matches_python(string id)
    {
        JsonElement c = ParityFixtures.Case(id);
        FeatureAttributionOutput mine = Load(c, "output_file").Aggregate();
        FeatureAttributionOutput python = Load(c, "aggregated_file");
        Assert.Equal(python.SequenceAttributions.Count, mine.SequenceAttributions.Count);
        for (int i = 0; i < mine.SequenceAttributions.Count; i++)
        {
            FeatureAttributionSequenceOutput a = mine.SequenceAttributions[i], b = python.SequenceAttributions[i];
            Assert.Equal(b.Kind, a.Kind);
            Assert.Equal(b.Source, a.Source);
            Assert.Equal(b.Target, a.Target);
            Assert.Equal(b.AttrPosStart, a.AttrPosStart);
            Assert.Equal(b.AttrPosEnd, a.AttrPosEnd);
            AssertClose(b.SourceAttributions, a.SourceAttributions, $"{id}[{i}].source_attributions");
            AssertClose(b.TargetAttributions, a.TargetAttributions, $"{id}[{i}].target_attributions");
            Assert.Equal(b.StepScores.Keys.Order(), a.StepScores.Keys.Order());
            foreach (var (k, v) in b.StepScores)
            {
                AssertClose(v, a.StepScores[k], $"{id}[{i}].step_scores.{k}");
            }

            Assert.Equal(b.SequenceScores.Keys.Order(), a.SequenceScores.Keys.Order());
            foreach (var (k, v) in b.SequenceScores)
            {
                AssertClose(v, a.SequenceScores[k], $"{id}[{i}].sequence_scores.{k}");
            }
        }
    }

    internal static void AssertClose(NdArray? expected, NdArray? actual, string what)
    {
        if (expected is null || actual is null)
        {
            Assert.True(expected is null && actual is null, $"{what}: one side is null");
            return;
        }

        Assert.True(actual.AllClose(expected, rtol: 1e-5, atol: 1e-7), $"{what}: values differ ({string.Join(",", expected.Span.ToArray().Take(6))} vs {string.Join(",", actual.Span.ToArray().Take(6))})");
    }

    private static FeatureAttributionOutput Load(JsonElement c, string key) =>
        InseqJson.Load(Path.Combine(ParityFixtures.Root, c.GetProperty(key).GetString()!));

    private static void CheckShapes(FeatureAttributionOutput output, JsonElement shapes)
    {
        var expected = shapes.EnumerateArray().ToList();
        Assert.Equal(expected.Count, output.SequenceAttributions.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            FeatureAttributionSequenceOutput s = output.SequenceAttributions[i];
            JsonElement e = expected[i];
            Assert.Equal(e.GetProperty("class").GetString(), ClassName(s.Kind));
            Assert.Equal(e.GetProperty("source_len").GetInt32(), s.Source.Count);
            Assert.Equal(e.GetProperty("target_len").GetInt32(), s.Target.Count);
            Assert.NotEmpty(s.Target);
            Assert.All(s.Target, t => Assert.False(string.IsNullOrEmpty(t.Token)));
            Assert.Equal(e.GetProperty("attr_pos_start").GetInt32(), s.AttrPosStart);
            Assert.Equal(e.GetProperty("attr_pos_end").GetInt32(), s.AttrPosEnd);
            Assert.Equal(Shape(e.GetProperty("source_attributions")), s.SourceAttributions?.Shape.ToArray());
            Assert.Equal(Shape(e.GetProperty("target_attributions")), s.TargetAttributions?.Shape.ToArray());
            foreach (JsonProperty p in e.GetProperty("step_scores").EnumerateObject())
            {
                Assert.Equal(Shape(p.Value), s.StepScores[p.Name].Shape.ToArray());
            }

            foreach (JsonProperty p in e.GetProperty("sequence_scores").EnumerateObject())
            {
                Assert.Equal(Shape(p.Value), s.SequenceScores[p.Name].Shape.ToArray());
            }
        }
    }

    private static int[]? Shape(JsonElement e) =>
        e.ValueKind == JsonValueKind.Null ? null : e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    private static string ClassName(AttributionKind kind) => kind switch
    {
        AttributionKind.Granular => "GranularFeatureAttributionSequenceOutput",
        AttributionKind.Coarse => "CoarseFeatureAttributionSequenceOutput",
        AttributionKind.MultiDimensional => "MultiDimensionalFeatureAttributionSequenceOutput",
        _ => "FeatureAttributionSequenceOutput",
    };
}
