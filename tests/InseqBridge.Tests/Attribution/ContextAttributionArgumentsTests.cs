using System.Text.Json.Nodes;
using InseqBridge.Attribution.Context;

namespace InseqBridge.Tests.Attribution;

/// <summary>Inseq's attribute-context argument rules, and its token selection checked on the scores Inseq saved.</summary>
public sealed class ContextAttributionArgumentsTests
{
    private static AttributeContextRequest Request(string current = "Hello") => new(current);

    [Fact]
    public void DefaultsAreInseqs()
    {
        var o = new AttributeContextOptions();
        Assert.Equal("kl_divergence", o.ContextSensitivityMetric);
        Assert.Equal(OutputContextStrategy.Manual, o.HandleOutputContextStrategy);
        Assert.Equal(" ", o.DecoderInputOutputSeparator);
        Assert.Equal(1.0, o.ContextSensitivityStdThreshold);
        Assert.Equal(1.0, o.AttributionStdThreshold);
        Assert.Null(o.ContextSensitivityTopK);
        Assert.Null(o.AttributionTopK);
        Assert.Equal("saliency", o.AttributionMethod);
        Assert.Null(o.AttributedFn);
        Assert.True(o.AddOutputInfo);
        Assert.False(o.NormalizeAttributions);

        ContextArguments a = ContextArguments.Resolve(Request() with { InputContextText = "ctx", OutputContextText = "out" });
        Assert.Equal("{context} {current}", a.InputTemplate);
        Assert.Equal("{context} {current}", a.OutputTemplate);
        Assert.Equal("{current}", a.ContextlessInputCurrentText);
        Assert.True(a.HasInputContext);
        Assert.True(a.HasOutputContext);
        ContextArguments plain = ContextArguments.Resolve(Request());
        Assert.Equal("{current}", plain.InputTemplate);
        Assert.False(plain.HasInputContext);
    }

    [Fact]
    public void ContrastiveMetricsAreInseqs()
    {
        var expected = ContextFixtures.Manifest()["contrastive_step_functions"]!.AsArray().Select(n => n!.GetValue<string>());
        Assert.Equal(expected, ContextArguments.ContrastiveIds);
    }

    public static TheoryData<AttributeContextRequest, string> BadRequests() => new()
    {
        { Request(string.Empty), "input current text is empty" },
        { Request() with { InputTemplate = "{context} only" , InputContextText = "c" }, "no {current} placeholder" },
        { Request() with { InputTemplate = "{context} {current}" }, "no input context text" },
        { Request() with { OutputTemplate = "no placeholder" }, "no {current} placeholder" },
        { Request() with { OutputTemplate = "{current} then {context}", OutputContextText = "c" }, "must come before {current}" },
        { Request() with { ContextlessInputCurrentText = "nothing" }, "contextless input current text" },
        { Request() with { ContextlessOutputCurrentText = "nothing" }, "contextless output current text" },
        { Request() with { OutputTemplate = "{context} {current}", Options = new() { HandleOutputContextStrategy = OutputContextStrategy.Pre } }, "needs --output-context-text" },
        { Request() with { Options = new() { ContextSensitivityMetric = "probability" } }, "not a contrastive step function" },
        { Request() with { Options = new() { ContextlessOutputNextTokens = ["a"], PromptUserForContextlessOutputNextTokens = true } }, "not both" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public void BadRequestsGiveOneLineTypedErrors(AttributeContextRequest request, string expected)
    {
        var e = Assert.Throws<ContextAttributionException>(() => ContextArguments.Resolve(request));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void UnusedContextsAreDroppedWithAWarning()
    {
        ContextArguments a = ContextArguments.Resolve(Request() with { InputContextText = "ctx", InputTemplate = "{current}", OutputContextText = "o", OutputTemplate = "{current}" });
        Assert.Null(a.InputContextText);
        Assert.Null(a.OutputContextText);
        Assert.Equal(2, a.Warnings.Count);
    }

    [Fact]
    public void TemplatesJoinAsInseq()
    {
        Assert.Equal("a b", ContextTemplates.ConcatWithSeparator("a", "b", " "));
        Assert.Equal("a b", ContextTemplates.ConcatWithSeparator("a ", "b", " "));
        Assert.Equal("a b", ContextTemplates.ConcatWithSeparator("a", " b", " "));
        Assert.Equal("a\nb", ContextTemplates.ConcatWithSeparator("a", "b", "\n"));
        Assert.Equal("<c> x <q> y", ContextTemplates.Format("<c> {context} <q> {current}", "y", "x"));
        Assert.Throws<ContextAttributionException>(() => ContextTemplates.Format("{context} {current}", "y"));
    }

    public static TheoryData<string> Cases() => ContextFixtures.OkCases();

    /// <summary>The selection Inseq made from its own saved CTI scores: same threshold (within float32 rounding) and same tokens in
    /// the same order.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void SelectionMatchesInseqOnItsScores(string id)
    {
        JsonObject entry = (JsonObject)ContextFixtures.Manifest()["cases"]![id]!;
        JsonObject args = (JsonObject)entry["args"]!;
        double? std = args.ContainsKey("context_sensitivity_std_threshold") ? args["context_sensitivity_std_threshold"]!.GetValue<double>() : 1.0;
        int? topK = args["context_sensitivity_topk"]?.GetValue<int>();
        AttributeContextOutput output = ContextFixtures.Load(id);
        var tokens = output.CtiScores!.Select((_, i) => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var (ranked, threshold) = ContextTokenSelection.FilterRank(tokens, output.CtiScores!, std, topK);
        // torch reduces float32 in its own order: allow a couple of float32 ulps.
        double expected = entry["cti_threshold"]!.GetValue<double>();
        Assert.Equal(expected, threshold, 5e-7 * Math.Abs(expected));
        Assert.Equal(output.CciScores.Select(c => c.CtiIdx), ranked.Select(r => r.Index));
        Assert.Equal(output.CciScores.Select(c => c.CtiScore), ranked.Select(r => r.Score));
    }

    [Fact]
    public void ThresholdRules()
    {
        Assert.Equal(0, ContextTokenSelection.Threshold([1, 2, 3], null));
        Assert.Equal(0, ContextTokenSelection.Threshold([], 1));
        Assert.Equal(2, ContextTokenSelection.Threshold([1, 2, 3], 0));
        Assert.Equal(5, ContextTokenSelection.Threshold([5], 2));
        Assert.Equal(3, ContextTokenSelection.Threshold([1, 2, 3], 1), 6);
        var (ranked, _) = ContextTokenSelection.FilterRank(["a", "b", "c"], [-3, 1, 2], 0, 1);
        Assert.Equal("a", Assert.Single(ranked).Token);
    }
}
