using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using InseqBridge.Attribution.Context;

namespace InseqBridge.Visualization;

/// <summary>
/// The report Inseq's <c>attribute-context</c> prints: the settings, the texts, then for each context-sensitive token
/// the output with that token highlighted with its CTI score, and the contexts with their cited tokens (CCI scores
/// passing mean + λ·std of both contexts' scores, top-k) highlighted with their scores. Built as styled spans, rendered
/// as plain text (tabs expanded as a terminal does) or as a self-contained HTML page.
/// </summary>
public static class ContextAttributionView
{
    /// <summary>The styled spans of the report of <paramref name="output"/>.</summary>
    /// <exception cref="ContextAttributionException">The output has no <c>info</c> (saved without output info).</exception>
    public static IReadOnlyList<ContextSpan> Build(AttributeContextOutput output)
    {
        ArgumentNullException.ThrowIfNull(output);
        JsonObject info = output.Info ?? throw new ContextAttributionException(
            "This context attribution has no info (it was saved with --no-add-output-info), which the view needs; run it again without that flag.");
        string? S(string key) => info[key] is JsonValue v && v.TryGetValue(out string? s) ? s : null;
        // Numbers read whatever they hold: a JSON file's number, or the int / long / double an in-memory info was given.
        double? D(string key) => info[key] is JsonValue v
            ? (v.TryGetValue(out double d) ? d : v.TryGetValue(out long l) ? l : v.TryGetValue(out int i) ? i : null)
            : null;
        bool B(string key) => info[key] is JsonValue v && v.TryGetValue(out bool b) && b;
        double? ctiStd = D("context_sensitivity_std_threshold");
        int? ctiTopK = (int?)D("context_sensitivity_topk");
        double? cciStd = D("attribution_std_threshold");
        int? cciTopK = (int?)D("attribution_topk");
        bool hasInput = B("has_input_context");
        bool hasOutput = B("has_output_context");

        var spans = new List<ContextSpan>();
        void Add(string text, ContextSpanStyle style = ContextSpanStyle.Plain) => spans.Add(new ContextSpan(text, style));
        Add("\nContext with ");
        Add("contextual cues", ContextSpanStyle.Cue);
        Add($" ({Comment(cciStd, cciTopK)}) followed by output sentence with ");
        Add("context-sensitive target spans", ContextSpanStyle.Sensitive);
        Add($" ({Comment(ctiStd, ctiTopK)})\n(CTI = \"{S("context_sensitivity_metric")}\", CCI = \"{S("attribution_method")}\" w/ \"{S("attributed_fn") ?? "None"}\" target)\n");
        if (hasInput)
        {
            Add("\n");
            Add("Input context:", ContextSpanStyle.Label);
            Add("\t" + S("input_context_text"));
        }

        Add("\n");
        Add("Input current:", ContextSpanStyle.Label);
        Add(" " + S("input_current_text"));
        if (hasOutput)
        {
            Add("\n");
            Add("Output context:", ContextSpanStyle.Label);
            Add("\t" + S("output_context_text"));
        }

        Add("\n");
        Add("Output current:", ContextSpanStyle.Label);
        Add("\t" + S("output_current_text"));
        Add("\n\n");

        var currentTokens = Readable(output.OutputCurrentTokens ?? []);
        double? threshold = output.CtiThreshold;
        if (threshold is null && output.CtiScores is { Count: > 1 } scores)
        {
            threshold = ContextTokenSelection.Threshold(scores, ctiStd);
        }

        int example = 1;
        foreach (CciOutput cci in output.CciScores)
        {
            Add($"#{example++}.\n");
            Add($"Generated output {(threshold is double t ? $"(CTI > {F3(t)})" : string.Empty)}:", ContextSpanStyle.Label);
            Add("\t");
            for (int i = 0; i < currentTokens.Count; i++)
            {
                if (i == cci.CtiIdx)
                {
                    Add($"{currentTokens[i]}({F3(cci.CtiScore)})", ContextSpanStyle.Sensitive);
                }
                else
                {
                    Add(currentTokens[i]);
                }
            }

            if (hasInput)
            {
                ContextLine("Input", output.InputContextTokens, cci.InputContextScores, hasOutput ? cci.OutputContextScores : null);
            }

            if (hasOutput)
            {
                // Inseq's threshold for the output context runs over its scores, the input context's and its own again
                // (its view extends the input list in place before this line); kept so that the cited tokens agree.
                var other = hasInput ? (cci.InputContextScores ?? []).Concat(cci.OutputContextScores ?? []).ToList() : null;
                ContextLine("Output", output.OutputContextTokens, cci.OutputContextScores, other);
            }

            Add("\n");
        }

        return spans;

        void ContextLine(string kind, IReadOnlyList<string>? tokens, IReadOnlyList<double>? own, IReadOnlyList<double>? other)
        {
            var shown = Readable(tokens ?? []);
            var scores = (own ?? []).Concat(other ?? []).ToList();
            var (ranked, cciThreshold) = ContextTokenSelection.FilterRank(shown, scores, cciStd, cciTopK);
            var cited = ranked.ToDictionary(r => r.Index, r => r.Score);
            Add("\n");
            Add($"{kind} context (CCI > {F3(cciThreshold)}):", ContextSpanStyle.Label);
            Add("\t");
            for (int i = 0; i < shown.Count; i++)
            {
                if (cited.TryGetValue(i, out double score))
                {
                    Add($"{shown[i]}({F3(score)})", ContextSpanStyle.Cue);
                }
                else
                {
                    Add(shown[i]);
                }
            }
        }
    }

    private static string Comment(double? std, int? topK)
    {
        var parts = new List<string>();
        if (std is double s && s != 0)
        {
            parts.Add($"std λ={s.ToString("F2", CultureInfo.InvariantCulture)}");
        }

        if (topK is int k && k != 0)
        {
            parts.Add($"top {k}");
        }

        return parts.Count > 0 ? string.Join(", ", parts) : "all";
    }

    private static string F3(double value) => value.ToString("F3", CultureInfo.InvariantCulture);

    /// <summary>Token strings as text: byte-level and SentencePiece space markers become spaces, Ċ a line break.</summary>
    public static IReadOnlyList<string> Readable(IReadOnlyList<string> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        return tokens.Select(t => t.Replace('Ġ', ' ').Replace('Ċ', '\n').Replace('▁', ' ')).ToList();
    }

    /// <summary>Plain text of <paramref name="spans"/>, tabs expanded to 8 columns as a terminal shows them.</summary>
    public static string RenderPlain(IReadOnlyList<ContextSpan> spans)
    {
        ArgumentNullException.ThrowIfNull(spans);
        string text = string.Concat(spans.Select(s => s.Text));
        var sb = new StringBuilder(text.Length + 32);
        int column = 0;
        foreach (char c in text)
        {
            if (c == '\t')
            {
                int pad = 8 - (column % 8);
                sb.Append(' ', pad);
                column += pad;
            }
            else
            {
                sb.Append(c);
                column = c == '\n' ? 0 : column + 1;
            }
        }

        return sb.ToString();
    }

    /// <summary>A self-contained HTML page of the report (all text escaped, no scripts, no external resources).</summary>
    public static string RenderHtml(IReadOnlyList<ContextSpan> spans, string title = "Context attribution")
    {
        ArgumentNullException.ThrowIfNull(spans);
        var sb = new StringBuilder();
        sb.AppendLine("<!DOCTYPE html>")
            .AppendLine("<html lang=\"en\">")
            .AppendLine("<head>")
            .AppendLine("<meta charset=\"utf-8\">")
            .Append("<title>").Append(WebUtility.HtmlEncode(title)).AppendLine("</title>")
            .AppendLine("<style>body{font-family:ui-monospace,Menlo,Consolas,monospace;margin:1.5em;color:#222}"
                + "pre{white-space:pre-wrap;tab-size:8;line-height:1.5}.label{font-weight:bold}"
                + ".cue{font-weight:bold;color:#008000}.sensitive{font-weight:bold;color:#1e90ff}</style>")
            .AppendLine("</head>")
            .AppendLine("<body>")
            .Append("<pre>");
        foreach (ContextSpan span in spans)
        {
            string text = WebUtility.HtmlEncode(span.Text);
            string? css = span.Style switch
            {
                ContextSpanStyle.Label => "label",
                ContextSpanStyle.Cue => "cue",
                ContextSpanStyle.Sensitive => "sensitive",
                _ => null,
            };
            if (css is null)
            {
                sb.Append(text);
            }
            else
            {
                sb.Append("<span class=\"").Append(css).Append("\">").Append(text).Append("</span>");
            }
        }

        sb.AppendLine("</pre>").AppendLine("</body>").AppendLine("</html>");
        return sb.ToString();
    }
}
