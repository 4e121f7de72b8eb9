using System.CommandLine;
using InseqBridge.Data;
using InseqBridge.Cli.Rendering;
using InseqBridge.Visualization;
using Spectre.Console;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// <c>show FILE</c>: loads an Inseq JSON file (ours or Python Inseq's) and prints a heatmap to the console, or
/// writes an HTML page (<c>--html</c>) and/or long-format CSV (<c>--csv</c>).
/// </summary>
public static class ShowCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "Inseq JSON file (.json or .json.gz)." };
        var html = new Option<string?>("--html") { Description = "Write a self-contained HTML page here.", HelpName = "OUT" };
        var csv = new Option<string?>("--csv") { Description = "Write long-format CSV here.", HelpName = "OUT" };
        var aggregate = new Option<bool>("--aggregate")
        {
            Description = "Apply the default aggregation first (always done for outputs that are not 2-D).",
        };
        Option<bool> overwrite = CommonOptions.Overwrite();
        var command = new Command("show", "Show saved attributions as a heatmap, HTML or CSV.") { file, html, csv, aggregate, overwrite };
        command.SetAction(parseResult =>
        {
            TextWriter output = parseResult.InvocationConfiguration.Output;
            FeatureAttributionOutput attributions = FeatureAttributionOutput.Load(parseResult.GetValue(file)!);
            bool force = parseResult.GetValue(aggregate);
            bool replace = parseResult.GetValue(overwrite);
            string? htmlPath = parseResult.GetValue(html);
            string? csvPath = parseResult.GetValue(csv);
            if (htmlPath is not null)
            {
                HtmlRenderer.Save(attributions, htmlPath, replace, force);
                output.WriteLine($"wrote {htmlPath}");
            }

            if (csvPath is not null)
            {
                CsvExporter.Save(attributions, csvPath, replace, force);
                output.WriteLine($"wrote {csvPath}");
            }

            if (htmlPath is null && csvPath is null)
            {
                if (ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected)
                {
                    SpectreHeatmapRenderer.Render(AnsiConsole.Console, HeatmapBuilder.Build(attributions, force));
                }
                else
                {
                    output.Write(PlainTextHeatmap.Render(attributions, forceAggregation: force));
                }
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
