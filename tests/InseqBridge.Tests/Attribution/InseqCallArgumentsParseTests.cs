using System.Text.Json.Nodes;
using InseqBridge.Attribution;

namespace InseqBridge.Tests.Attribution;

/// <summary>The one parser of recorded Inseq calls (<see cref="InseqCallArguments.Parse"/>), used by the CLI's parity
/// command, the Python backend tests and the native parity tests.</summary>
public class InseqCallArgumentsParseTests
{
    private static JsonObject Call(string json) => (JsonObject)JsonNode.Parse(json)!;

    [Theory]
    [InlineData("saliency", """{"input_texts": ["a"], "n_sample": 5}""", "n_sample")]
    [InlineData("gradient_shap", """{"input_texts": ["a"], "n_steps": 5}""", "n_steps")]
    [InlineData("integrated_gradients", """{"input_texts": ["a"], "attribution_args": {"n_step": 5}}""", "attribution_args.n_step")]
    [InlineData("saliency", """{"input_texts": ["a"], "generation_args": {"max_new_token": 4}}""", "generation_args.max_new_token")]
    [InlineData("saliency", """{"input_texts": ["a"], "step_scores": ["entropy"], "step_scores_args": {"logprob": true}}""", "step_scores_args.logprob")]
    [InlineData("saliency", """{"input_texts": "a", "top_p": 0.5}""", "top_p")]
    [InlineData("saliency", """{"input_texts": [1, 2]}""", "input_texts")]
    [InlineData("saliency", """{"generated_texts": ["a"]}""", "input_texts")]
    [InlineData("saliency", """{"input_texts": ["a"], "attribute_target": "yes"}""", "attribute_target")]
    [InlineData("saliency", """{"input_texts": ["a"], "attr_pos_start": 1.5}""", "attr_pos_start")]
    [InlineData("saliency", """{"input_texts": ["a"], "generation_args": [4]}""", "generation_args")]
    public void A_key_nothing_reads_or_a_value_of_the_wrong_kind_is_a_typed_error_naming_the_key(string method, string kwargs, string key)
    {
        var e = Assert.Throws<InseqCallArgumentException>(() => InseqCallArguments.Parse(method, Call(kwargs)));
        Assert.Equal(key, e.Key);
        Assert.Contains(key.Split('.')[^1], e.Message);
        Assert.DoesNotContain("\n", e.Message);
        Assert.DoesNotContain("Exception", e.Message);
    }

    [Fact]
    public void FromKwargs_reports_the_parse_error_as_the_reason()
    {
        Assert.Null(InseqCallArguments.FromKwargs("saliency", Call("""{"input_texts": ["a"], "bogus": 1}"""), out string? reason));
        Assert.Contains("'bogus'", reason);
    }

    [Fact]
    public void Method_arguments_are_read_at_top_level_and_in_attribution_args()
    {
        var shap = Assert.IsType<GradientShap>(InseqCallArguments.Parse("gradient_shap", Call("""{"input_texts": ["a"], "n_samples": 7, "stdevs": 0.5}""")).Method);
        Assert.Equal(7, shap.Samples);
        Assert.Equal(0.5, shap.StandardDeviation);

        var ig = Assert.IsType<IntegratedGradients>(InseqCallArguments.Parse(
            "integrated_gradients", Call("""{"input_texts": ["a"], "n_steps": 10, "attribution_args": {"method": "riemann_middle"}}""")).Method);
        Assert.Equal(10, ig.Steps);
        Assert.Equal(IntegrationMethod.RiemannMiddle, ig.Method);

        var occlusion = Assert.IsType<Occlusion>(InseqCallArguments.Parse("occlusion", Call("""{"input_texts": ["a"], "sliding_window_shapes": [2]}""")).Method);
        Assert.Equal(2, occlusion.WindowTokens);
    }

    [Fact]
    public void Bare_step_function_arguments_go_to_every_step_function_that_takes_them()
    {
        AttributionRequest request = InseqCallArguments.Parse("saliency", Call(
            """{"input_texts": ["a"], "step_scores": ["probability", "top_p_size"], "logprob": true, "top_p": 0.5, "attributed_fn": "probability"}"""));
        Assert.True(Assert.IsType<Probability>(request.StepScores[0]).LogProb);
        Assert.Equal(0.5, Assert.IsType<TopPSize>(request.StepScores[1]).TopP);
        Assert.True(Assert.IsType<Probability>(request.AttributedFunction).LogProb);
    }

    [Fact]
    public void A_bad_value_of_a_known_argument_is_an_invalid_request_naming_it()
    {
        var e = Assert.Throws<InseqBridge.Errors.InvalidRequestException>(() =>
            InseqCallArguments.Parse("integrated_gradients", Call("""{"input_texts": ["a"], "n_steps": "many"}""")));
        Assert.Contains("n_steps", e.Message);
    }

    /// <summary>Fixture folders whose manifest lists recorded <c>model.attribute</c> calls (a <c>cases</c> array of
    /// objects with <c>method</c> and <c>attribute</c>); attribute-context references have another layout.</summary>
    public static TheoryData<string> FixtureSets() =>
        new(Directory.GetDirectories(Path.GetDirectoryName(ParityFixtures.Root)!)
            .Where(d => File.Exists(Path.Combine(d, "manifest.json")) && IsRecordedCallManifest(Path.Combine(d, "manifest.json")))
            .Select(Path.GetFileName)!);

    private static bool IsRecordedCallManifest(string path) =>
        JsonNode.Parse(File.ReadAllText(path))?["cases"] is JsonArray { Count: > 0 } cases
        && cases.All(c => c is JsonObject o && o.ContainsKey("method") && o.ContainsKey("attribute"));

    [Fact]
    public void The_recorded_call_sets_include_the_parity_fixtures()
    {
        string[] sets = [.. Directory.GetDirectories(Path.GetDirectoryName(ParityFixtures.Root)!).Where(d => File.Exists(Path.Combine(d, "manifest.json")) && IsRecordedCallManifest(Path.Combine(d, "manifest.json"))).Select(d => Path.GetFileName(d))];
        Assert.Contains("parity", sets);
        Assert.Contains("reference-extra", sets);
        Assert.DoesNotContain("reference-context", sets);
    }

    [Theory]
    [MemberData(nameof(FixtureSets))]
    public void Every_recorded_call_of_the_fixtures_parses(string set)
    {
        string manifest = Path.Combine(Path.GetDirectoryName(ParityFixtures.Root)!, set, "manifest.json");
        var cases = JsonNode.Parse(File.ReadAllText(manifest))!["cases"]!.AsArray();
        Assert.NotEmpty(cases);
        foreach (JsonObject c in cases.Cast<JsonObject>())
        {
            string method = c["method"]!.GetValue<string>();
            var kwargs = (JsonObject)c["attribute"]!;
            AttributionRequest request = InseqCallArguments.Parse(method, kwargs);
            Assert.Equal(method, request.Method!.Id);
            Assert.Equal(kwargs["input_texts"]!.AsArray().Count, request.InputTexts.Count);
        }
    }
}
