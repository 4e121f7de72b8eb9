using System.Text.Json.Nodes;
using InseqBridge.Attribution;

namespace InseqBridge.Python.Tests;

public class InseqCallArgumentsTests
{
    [Fact]
    public void A_typed_request_maps_to_inseq_keyword_arguments()
    {
        var request = new AttributionRequest(["a", "b"])
        {
            GeneratedTexts = ["a x", "b y"],
            StepScores = [new Probability { LogProb = true }, new Entropy()],
            AttributedFunction = new Logit(),
            AttributeTarget = true,
            AttrPosStart = 1,
            AttrPosEnd = -1,
            IncludeEosBaseline = true,
            BatchSize = 2,
            Generation = new GenerationArguments { MaxNewTokens = 4, DoSample = false },
        };
        JsonObject kwargs = InseqCallArguments.ToKwargs(request, new IntegratedGradients { Steps = 10, Method = IntegrationMethod.RiemannLeft });
        var expected = JsonNode.Parse("""
            {"input_texts": ["a", "b"], "generated_texts": ["a x", "b y"], "step_scores": ["probability", "entropy"],
             "step_scores_args": {"logprob": true}, "attributed_fn": "logit", "attribute_target": true, "attr_pos_start": 1,
             "attr_pos_end": -1, "include_eos_baseline": true, "batch_size": 2,
             "generation_args": {"max_new_tokens": 4, "do_sample": false}, "n_steps": 10, "method": "riemann_left",
             "show_progress": false}
            """);
        Assert.True(JsonNode.DeepEquals(expected, JsonNode.Parse(kwargs.ToJsonString())), kwargs.ToJsonString());
    }

    [Fact]
    public void Conflicting_step_score_arguments_are_refused()
    {
        var request = new AttributionRequest(["a"]) { StepScores = [new TopPSize { TopP = 0.5 }, new CustomStepFunction("mine", new Dictionary<string, string> { ["top_p"] = "0.9" })] };
        Assert.Throws<InseqBridge.Errors.InvalidRequestException>(() => InseqCallArguments.ToKwargs(request, new Saliency()));
    }

    [Fact]
    public void Every_recorded_call_maps_back_to_the_same_arguments()
    {
        int mapped = 0;
        foreach (JsonObject c in Fixtures.Cases)
        {
            var original = (JsonObject)c["attribute"]!.DeepClone();
            string method = c["method"]!.GetValue<string>();
            AttributionRequest request = InseqCallArguments.Parse(method, original);
            JsonObject back = InseqCallArguments.ToKwargs(request, request.Method!);
            JsonObject expected = Normalized(method, original);
            Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected.ToJsonString()), JsonNode.Parse(back.ToJsonString())), $"{c["id"]}: {original.ToJsonString()} -> {back.ToJsonString()}");
            mapped++;
        }

        Assert.True(mapped > 150, $"only {mapped} cases mapped");
    }

    /// <summary>The call as ToKwargs writes it: attribution_args merged into the top level, method arguments equal to
    /// their defaults left out (Inseq records only those that differ).</summary>
    private static JsonObject Normalized(string method, JsonObject call)
    {
        var result = (JsonObject)call.DeepClone();
        if (result["attribution_args"] is JsonObject explicitArgs)
        {
            result.Remove("attribution_args");
            foreach (var (key, value) in explicitArgs)
            {
                result[key] = value?.DeepClone();
            }
        }

        foreach (ArgumentDescription argument in AttributionMethod.DescribeArguments(method))
        {
            if (result[argument.Name] is JsonValue v && argument.Default is not null
                && string.Equals(v.ToJsonString().Trim('"'), Convert.ToString(argument.Default, System.Globalization.CultureInfo.InvariantCulture), StringComparison.OrdinalIgnoreCase))
            {
                result.Remove(argument.Name);
            }
        }

        return result;
    }
}
