using System.Text.Json.Nodes;
using InseqBridge.Attribution.Context;
using InseqBridge.Visualization;

namespace InseqBridge.Tests.Visualization;

/// <summary>The context attribution report against the text Inseq's console view printed for the same outputs.</summary>
public sealed class ContextAttributionViewTests
{
    public static TheoryData<string> Cases() => ContextFixtures.OkCases();

    [Theory]
    [MemberData(nameof(Cases))]
    public void PlainTextIsInseqsConsoleText(string id)
    {
        JsonObject entry = (JsonObject)ContextFixtures.Manifest()["cases"]![id]!;
        if (entry["console"]?.GetValue<string>() is not string console)
        {
            // Inseq's own view failed (IndexError on encoder-decoder outputs) or the case has no info: nothing to compare.
            Assert.True(entry["console_error"] is not null || ContextFixtures.Load(id).Info is null, $"{id}: no console text recorded");
            return;
        }

        AttributeContextOutput output = ContextFixtures.LoadClean(id) with { CtiThreshold = entry["cti_threshold"]!.GetValue<double>() };
        if (output.Info is null)
        {
            // Saved without info (Inseq printed its view before dropping it): the view needs the arguments.
            Assert.Throws<ContextAttributionException>(() => ContextAttributionView.Build(output));
            return;
        }

        string text = ContextAttributionView.RenderPlain(ContextAttributionView.Build(output)) + "\n";
        Assert.Equal(console, text);
    }

    [Fact]
    public void HtmlIsSelfContainedAndEscaped()
    {
        AttributeContextOutput output = ContextFixtures.LoadClean("gpt2__kl__templates__output_context__attention");
        string html = ContextAttributionView.RenderHtml(ContextAttributionView.Build(output), "a <title>");
        Assert.StartsWith("<!DOCTYPE html>", html, StringComparison.Ordinal);
        Assert.Contains("a &lt;title&gt;", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("http", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("<span class=\"sensitive\">The(0.014)</span>", html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"cue\">", html, StringComparison.Ordinal);

        var hostile = output with { Info = (JsonObject)output.Info!.DeepClone() };
        hostile.Info!["input_current_text"] = "<img src=x onerror=alert(1)>";
        string escaped = ContextAttributionView.RenderHtml(ContextAttributionView.Build(hostile));
        Assert.DoesNotContain("<img", escaped, StringComparison.Ordinal);
        Assert.Contains("&lt;img src=x onerror=alert(1)&gt;", escaped, StringComparison.Ordinal);
    }

    [Fact]
    public void SpansMarkTheSensitiveTokenAndTheCues()
    {
        AttributeContextOutput output = ContextFixtures.LoadClean("gpt2__kl__forced__default");
        var spans = ContextAttributionView.Build(output);
        Assert.Contains(spans, s => s.Style == ContextSpanStyle.Sensitive && s.Text == " the(0.008)");
        Assert.Equal(3, spans.Count(s => s.Style == ContextSpanStyle.Cue && s.Text.EndsWith("(0.000)", StringComparison.Ordinal)));
    }

    [Fact]
    public void EncoderDecoderIndexPastTheTokensIsPrintedWithoutHighlight()
    {
        // Inseq's own view raises IndexError here: its encoder-decoder CTI indices count the target's leading <s>.
        AttributeContextOutput output = ContextFixtures.LoadClean("bart__kl__forced__std0");
        Assert.Contains(output.CciScores, c => c.CtiIdx >= output.OutputCurrentTokens!.Count);
        string text = ContextAttributionView.RenderPlain(ContextAttributionView.Build(output));
        Assert.Equal(output.CciScores.Count, text.Split("Generated output").Length - 1);
    }

    [Fact]
    public void ViewWithoutInfoIsATypedError()
    {
        AttributeContextOutput output = ContextFixtures.Load("gpt2__kl__no_info__normalize");
        var e = Assert.Throws<ContextAttributionException>(() => ContextAttributionView.Build(output));
        Assert.Contains("no-add-output-info", e.Message, StringComparison.Ordinal);
    }
}
