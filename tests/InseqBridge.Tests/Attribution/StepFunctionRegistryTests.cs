using InseqBridge.Attribution;
using InseqBridge.Errors;

namespace InseqBridge.Tests.Attribution;

/// <summary>
/// The step function registry: Inseq's 14 ids in Inseq's order, arguments from one declaration (routing, defaults,
/// checks), and a step function registered through the registry alone known to <see cref="StepFunction.FromId"/>.
/// </summary>
public class StepFunctionRegistryTests
{
    [Fact]
    public void Built_in_ids_are_inseqs_fourteen_in_order()
    {
        Assert.Equal(
            [
                "logit", "probability", "entropy", "crossentropy", "perplexity", "contrast_logits", "contrast_prob",
                "contrast_logits_diff", "contrast_prob_diff", "pcxmi", "kl_divergence", "in_context_pvi",
                "mc_dropout_prob_avg", "top_p_size",
            ],
            StepFunction.BuiltInIds);
    }

    [Fact]
    public void Arguments_are_routed_and_read_from_the_declarations()
    {
        Assert.Equal(["top_k", "top_p", "min_tokens_to_keep"], StepFunction.ArgumentNames("kl_divergence"));
        Assert.Equal(["logprob", "n_mcd_steps"], StepFunction.ArgumentNames("mc_dropout_prob_avg"));
        var routed = StepFunction.RouteArguments("probability", new Dictionary<string, string> { ["logprob"] = "true", ["top_p"] = "0.5" });
        Assert.Equal(new Dictionary<string, string> { ["logprob"] = "true" }, routed);
        Assert.True(Assert.IsType<Probability>(StepFunction.FromId("probability", routed)).LogProb);
        Assert.False(Assert.IsType<Probability>(StepFunction.FromId("probability")).LogProb);
        Assert.Equal(new McDropoutProbabilityAverage().Samples, StepFunction.DescribeArguments("mc_dropout_prob_avg").Single(a => a.Name == "n_mcd_steps").Default);

        var missing = Assert.Throws<InvalidRequestException>(() => StepFunction.FromId("top_p_size"));
        Assert.Equal("Step function 'top_p_size' requires argument top_p (e.g. top_p=0.9).", missing.Message);
        Assert.Null(StepFunction.DescribeArguments("top_p_size").Single().Default);
        var samples = Assert.Throws<InvalidRequestException>(() => StepFunction.FromId("mc_dropout_prob_avg", new Dictionary<string, string> { ["n_mcd_steps"] = "0" }));
        Assert.Contains("n_mcd_steps", samples.Message, StringComparison.Ordinal);
        var unknownArgument = Assert.Throws<InvalidRequestException>(() => StepFunction.FromId("logit", new Dictionary<string, string> { ["logprob"] = "true" }));
        Assert.Equal("Step function 'logit' does not accept argument(s): logprob.", unknownArgument.Message);
        var unknown = Assert.Throws<InvalidRequestException>(() => StepFunction.FromId("probabilty"));
        Assert.StartsWith("Unknown step function 'probabilty'. Did you mean probability", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_contrastive_and_dropout_functions_need_extra_forwards()
    {
        string[] extra = [.. StepFunctionRegistry.All.Where(d => d.NeedsExtraForwards).Select(d => d.Id)];
        Assert.Equal(
            ["contrast_logits", "contrast_prob", "contrast_logits_diff", "contrast_prob_diff", "pcxmi", "kl_divergence", "in_context_pvi", "mc_dropout_prob_avg"],
            extra);
        Assert.All(extra.Where(id => id != "mc_dropout_prob_avg"), id => Assert.IsAssignableFrom<ContrastiveStepFunction>(StepFunction.FromId(id)));
    }

    [Fact]
    public void A_step_function_registered_through_the_registry_alone_is_known_to_the_core()
    {
        const string id = "test_margin_core";
        var descriptor = new StepFunctionDescriptor
        {
            Id = id,
            Summary = "Margin between the two best logits (test).",
            Arguments = [ArgumentSpec.Integer("k", 2, "Rank compared with the best.", minimum: 2)],
        };
        Assert.DoesNotContain(id, StepFunction.KnownIds);
        StepFunctionRegistry.Register(descriptor);
        try
        {
            Assert.Contains(id, StepFunction.KnownIds);
            Assert.DoesNotContain(id, StepFunction.BuiltInIds);
            var fn = Assert.IsType<CustomStepFunction>(StepFunction.FromId(id, new Dictionary<string, string> { ["k"] = "3" }));
            Assert.Equal(id, fn.Id);
            Assert.Equal("3", fn.Args["k"]);
            Assert.Equal(["k"], StepFunction.ArgumentNames(id));
            Assert.Throws<InvalidRequestException>(() => StepFunction.FromId(id, new Dictionary<string, string> { ["k"] = "1" }));
            Assert.Throws<InvalidRequestException>(() => StepFunction.FromId(id, new Dictionary<string, string> { ["j"] = "1" }));
        }
        finally
        {
            Assert.True(StepFunctionRegistry.Unregister(id));
        }

        Assert.Throws<InvalidRequestException>(() => StepFunction.FromId(id));
        Assert.False(StepFunctionRegistry.Unregister("probability"));
    }
}
