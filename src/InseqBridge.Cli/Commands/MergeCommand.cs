using System.CommandLine;
using InseqBridge.Aggregation;
using InseqBridge.Cli.Datasets;
using InseqBridge.Datasets;
using InseqBridge.Serialization;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// <c>merge DIR... --output FILE|DIR</c>: gathers the shard folders of a sharded <c>attribute-dataset</c> run into one
/// JSONL (<c>.jsonl</c>), one Parquet table (<c>.parquet</c>) or a folder of one file per example, in row order;
/// reports missing and failed rows by line and refuses to mix results of different settings.
/// </summary>
public static class MergeCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var folders = new Argument<string[]>("DIR")
        {
            Description = "Result folders of attribute-dataset: shard-K-of-N folders, or the --output folder that holds them.",
            Arity = ArgumentArity.OneOrMore,
        };
        var output = new Option<string>("--output")
        {
            Description = "Merged result: FILE.jsonl (one line per example), FILE.parquet (one long-format table), or a folder (one file per example).",
            Required = true,
            HelpName = "FILE|DIR",
        };
        var overwrite = CommonOptions.Overwrite();
        var command = new Command("merge", "Merge the shard results of attribute-dataset into one file or folder, in row order.") { folders, output, overwrite };
        command.SetAction(parseResult =>
        {
            TextWriter stdout = parseResult.InvocationConfiguration.Output;
            TextWriter stderr = parseResult.InvocationConfiguration.Error;
            string target = parseResult.GetValue(output)!;
            DatasetMergePlan plan = DatasetMerger.Plan(parseResult.GetValue(folders)!);
            bool exists = File.Exists(target) || (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any());
            if (exists && !parseResult.GetValue(overwrite))
            {
                throw new OutputFileExistsException(target);
            }

            if (target.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
            {
                DatasetMerger.WriteJsonLines(plan, target);
            }
            else if (target.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
            {
                WriteParquet(plan, target);
            }
            else
            {
                DatasetMerger.WriteFiles(plan, target);
            }

            stdout.WriteLine($"merged {plan.Examples.Count} of {plan.Record.DatasetRows} examples from {plan.Folders.Count} folder(s) into {target}");
            foreach (var (number, line) in plan.Missing)
            {
                stderr.WriteLine($"error: line {line} (example {number}): missing (no shard has saved it; rerun its shard)");
            }

            foreach (DatasetFailureRecord failure in plan.Failed)
            {
                stderr.WriteLine($"error: line {failure.Line} (example {failure.Number}): failed: {failure.Error}");
            }

            if (!plan.Complete)
            {
                stderr.WriteLine($"error: {plan.Missing.Count} missing and {plan.Failed.Count} failed of {plan.Record.DatasetRows} examples.");
                return ExitCodes.Failure;
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static void WriteParquet(DatasetMergePlan plan, string path)
    {
        var rows = new List<AttributionParquetRow>();
        foreach (DatasetSavedExample example in plan.Examples)
        {
            if (example.FilePath is string file && file.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
            {
                rows.AddRange(AttributionParquet.Read(file));
            }
            else
            {
                var output = InseqJson.Parse(example.ToJsonLine());
                if (output.SequenceAttributions.Any(s => (s.SourceAttributions?.Rank ?? 2) > 2 || (s.TargetAttributions?.Rank ?? 2) > 2))
                {
                    output = output.Aggregate();
                }

                rows.AddRange(AttributionParquet.Rows(output, example.Number, example.Line));
            }
        }

        DatasetAttributor.WriteAtomically(path, AttributionParquet.Serialize(rows));
    }
}
