using System.CommandLine;
using InseqBridge.Cli.Rendering;
using InseqBridge.Data;
using InseqBridge.Serialization;
using InseqBridge.Visualization;

namespace InseqBridge.Cli;

/// <summary>
/// The views and exports shared by <c>attribute</c> and <c>show</c>: <c>--html</c>, <c>--csv</c>,
/// <c>--scores-json</c>, and the console heatmap (<c>--show</c>, <c>--plain</c>).
/// </summary>
public sealed class ExportOptions
{
    /// <summary><c>--html FILE</c>.</summary>
    public Option<string?> Html { get; } = new("--html") { Description = "Write a self-contained HTML heatmap page here.", HelpName = "FILE" };

    /// <summary><c>--csv FILE</c>.</summary>
    public Option<string?> Csv { get; } = new("--csv") { Description = "Write long-format CSV here (sequence, target position/token, source position/token, score, kind).", HelpName = "FILE" };

    /// <summary><c>--scores-json FILE</c>.</summary>
    public Option<string?> ScoresJson { get; } = new("--scores-json") { Description = "Write Inseq's get_scores_dicts() as JSON here (keys are '(position, token)').", HelpName = "FILE" };

    /// <summary><c>--show</c>.</summary>
    public Option<bool> Show { get; } = new("--show") { Description = "Print the heatmap to the console even when files are written." };

    /// <summary><c>--plain</c>.</summary>
    public Option<bool> Plain { get; } = new("--plain") { Description = "Print the heatmap as plain text (no colours); the default when output is redirected." };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        foreach (Option option in new Option[] { Html, Csv, ScoresJson, Show, Plain })
        {
            command.Options.Add(option);
        }
    }

    /// <summary>Fails before any work when an output file exists and <paramref name="overwrite"/> is false.</summary>
    /// <exception cref="OutputFileExistsException">A target exists.</exception>
    public void CheckTargets(ParseResult parseResult, bool overwrite, params string?[] others)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        ArgumentNullException.ThrowIfNull(others);
        var targets = others.Select(p => ("--save", p))
            .Concat([("--html", parseResult.GetValue(Html)), ("--csv", parseResult.GetValue(Csv)), ("--scores-json", parseResult.GetValue(ScoresJson))])
            .Where(t => t.Item2 is not null)
            .Select(t => (Flag: t.Item1, Path: t.Item2!))
            .ToList();
        OutputTargets.Check(targets, overwrite);
    }

    /// <summary>Writes the requested files, then the console heatmap when <c>--show</c> is given or when nothing
    /// was written (<paramref name="fileWritten"/> tells whether the caller wrote a file of its own).</summary>
    public void Write(ParseResult parseResult, FeatureAttributionOutput attributions, TextWriter output, bool overwrite, bool forceAggregation, bool fileWritten)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        ArgumentNullException.ThrowIfNull(attributions);
        ArgumentNullException.ThrowIfNull(output);
        CheckTargets(parseResult, overwrite);
        bool wrote = fileWritten;
        if (parseResult.GetValue(Html) is string html)
        {
            HtmlRenderer.Save(attributions, html, overwrite, forceAggregation);
            output.WriteLine($"wrote {TerminalText.Escape(html)}");
            wrote = true;
        }

        if (parseResult.GetValue(Csv) is string csv)
        {
            CsvExporter.Save(attributions, csv, overwrite, forceAggregation);
            output.WriteLine($"wrote {TerminalText.Escape(csv)}");
            wrote = true;
        }

        if (parseResult.GetValue(ScoresJson) is string scores)
        {
            string json = ScoresDicts.ToJson(attributions.GetScoresDicts());
            OutputFile.WriteAllText(scores, json, overwrite);
            output.WriteLine($"wrote {TerminalText.Escape(scores)}");
            wrote = true;
        }

        if (!wrote || parseResult.GetValue(Show))
        {
            ConsoleHeatmap.Write(output, HeatmapBuilder.Build(attributions, forceAggregation), parseResult.GetValue(Plain));
        }
    }
}
