using System.CommandLine;
using InseqBridge.Data;
using InseqBridge.Serialization;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// <c>show FILE</c>: loads an Inseq JSON file (ours or Python Inseq's) and prints a heatmap to the console, or
/// writes an HTML page (<c>--html</c>), long-format CSV (<c>--csv</c>) and/or <c>get_scores_dicts</c> JSON
/// (<c>--scores-json</c>).
/// </summary>
public static class ShowCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "Inseq JSON file (.json or .json.gz) saved by inseq-bridge or Python Inseq, or an attributions.jsonl of attribute-dataset." };
        var aggregate = new Option<bool>("--aggregate")
        {
            Description = "Apply the default aggregation first (always done for outputs that are not 2-D).",
        };
        Option<bool> overwrite = CommonOptions.Overwrite();
        var exports = new ExportOptions();
        var command = new Command("show", "Show saved attributions as a console heatmap, HTML page, CSV or scores JSON.") { file, aggregate, overwrite };
        exports.AddTo(command);
        command.SetAction(parseResult =>
        {
            bool replace = parseResult.GetValue(overwrite);
            string input = parseResult.GetValue(file)!;
            foreach (string? target in new[] { parseResult.GetValue(exports.Html), parseResult.GetValue(exports.Csv), parseResult.GetValue(exports.ScoresJson) })
            {
                if (target is not null && Path.GetFullPath(target) == Path.GetFullPath(input))
                {
                    throw new CliUsageException($"{target} is the file being shown; write the export to another file.");
                }
            }

            exports.CheckTargets(parseResult, replace);
            FeatureAttributionOutput attributions;
            using (CliContext.Heartbeat heartbeat = CliContext.Working($"reading {Path.GetFileName(input)}"))
            {
                attributions = Load(input);
            }

            CliContext.Token.ThrowIfCancellationRequested();
            exports.Write(parseResult, attributions, parseResult.InvocationConfiguration.Output, replace, parseResult.GetValue(aggregate), fileWritten: false);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Loads an Inseq JSON file, or the <c>attributions.jsonl</c> of <c>attribute-dataset --jsonl</c>
    /// (every line's sequences, in file order).</summary>
    public static FeatureAttributionOutput Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
        {
            return FeatureAttributionOutput.Load(path);
        }

        if (Directory.Exists(path))
        {
            throw new InseqJsonException(path, "$", "this is a folder, not an attributions.jsonl file; pass the file's path");
        }

        var sequences = File.ReadLines(path)
            .Select((line, i) => (line, i))
            .Where(x => !string.IsNullOrWhiteSpace(x.line))
            .SelectMany(x =>
            {
                CliContext.Token.ThrowIfCancellationRequested();
                return InseqJson.Parse(x.line, $"{path}, line {x.i + 1}").SequenceAttributions;
            })
            .ToList();
        return new FeatureAttributionOutput { SequenceAttributions = sequences };
    }
}
