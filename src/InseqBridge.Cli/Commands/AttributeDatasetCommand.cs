using InseqBridge.Aggregation;
using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using InseqBridge.Attribution;
using InseqBridge.Cli.Datasets;
using InseqBridge.Datasets;
using InseqBridge.Native.Attribution;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// <c>attribute-dataset</c>: attributes every row of a JSONL, CSV, TSV or plain-text file, saving one Inseq JSON
/// per example (or one JSONL). Resumes where it stopped, reports bad rows by line and goes on, and stops cleanly
/// on Ctrl+C (no half-written file).
/// </summary>
public static class AttributeDatasetCommand
{
    /// <summary>Exit code after Ctrl+C (128 + SIGINT, the shell convention).</summary>
    public const int Interrupted = 130;

    /// <summary>Creates the command.</summary>
    public static Command Create() => Create(CancellationToken.None);

    /// <summary>Creates the command; <paramref name="cancellation"/> stops a run like Ctrl+C does (for tests and
    /// hosts).</summary>
    public static Command Create(CancellationToken cancellation)
    {
        var shared = new AttributionOptions();
        var dataset = new Option<string>("--dataset")
        {
            Description = "Dataset file: .jsonl/.ndjson (one JSON object per line), .csv, .tsv, or plain text (one input per line).",
            Required = true,
            HelpName = "FILE",
        };
        var textColumn = new Option<string>("--text-column") { Description = "Column (JSON key) with the input text.", DefaultValueFactory = _ => "text", HelpName = "C" };
        var generatedColumn = new Option<string?>("--generated-column") { Description = "Column with forced output texts (default: generate).", HelpName = "C" };
        var outputDir = new Option<string?>("--output")
        {
            Description = "Folder for the results (default: <dataset>.attributions next to the dataset).",
            HelpName = "DIR",
        };
        var jsonl = new Option<bool>("--jsonl") { Description = $"Append all results to DIR/{DatasetAttributor.JsonLinesFileName} instead of one file per example." };
        var plain = new Option<bool>("--plain") { Description = "Progress as plain lines (the default when output is redirected)." };
        KeyValuePair<string, DatasetResultFormat>[] formats =
            [new("json", DatasetResultFormat.Json), new("jsonl", DatasetResultFormat.JsonLines), new("parquet", DatasetResultFormat.Parquet)];
        var format = EnumOption.Create(
            "--format",
            $"Results as one Inseq JSON per example (json, the default), one {DatasetAttributor.JsonLinesFileName} (jsonl, as --jsonl), or long-format Parquet tables, one per example (parquet; implies --aggregate unless --aggregator is given).",
            formats);
        var shard = new Option<string?>("--shard")
        {
            Description = "Attribute only shard K of N (K from 0): the rows whose number minus one leaves K when divided by N. Results go to DIR/shard-K-of-N. Default: from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT (or _MIN/_MAX), or JOB_COMPLETION_INDEX with --shards.",
            HelpName = "K/N",
        };
        var shards = new Option<int?>("--shards")
        {
            Description = "Number of shards when the index comes from the scheduler (Kubernetes Indexed Jobs: the completions count).",
            HelpName = "N",
        };
        shared.BatchSize.Description = "Examples per call (default 1); examples of equal token lengths share passes, results are identical to one at a time.";
        var command = new Command(
            "attribute-dataset",
            "Attribute every example of a dataset file; resumable (saved examples are skipped unless --overwrite).")
        {
            dataset, textColumn, generatedColumn, outputDir, jsonl, format, shard, shards, plain,
        };
        shared.AddTo(command);
        command.SetAction(parseResult =>
        {
            TextWriter output = parseResult.InvocationConfiguration.Output;
            string path = parseResult.GetValue(dataset)!;
            string directory = parseResult.GetValue(outputDir) ?? path + ".attributions";
            DatasetResultFormat? given = parseResult.GetValue(format);
            if (given is { } g && parseResult.GetValue(jsonl) && g != DatasetResultFormat.JsonLines)
            {
                throw new CliUsageException($"--jsonl and --format {EnumOption.Spelling(formats, g)} contradict each other: give one.");
            }

            DatasetResultFormat formatId = given ?? (parseResult.GetValue(jsonl) ? DatasetResultFormat.JsonLines : DatasetResultFormat.Json);
            DatasetShard? part = DatasetShard.Resolve(parseResult.GetValue(shard), parseResult.GetValue(shards));
            if (part is not null)
            {
                directory = Path.Combine(directory, part.FolderName);
            }

            int batchSize = parseResult.GetValue(shared.BatchSize) ?? 1;
            if (batchSize < 1)
            {
                throw new CliUsageException($"--batch-size must be at least 1 (got {batchSize}).");
            }

            IReadOnlyList<DatasetRow> rows = DatasetReader.Read(path, parseResult.GetValue(textColumn)!, parseResult.GetValue(generatedColumn));
            AttributionMethod method = shared.CreateMethod(parseResult);
            _ = shared.CreateRequest(parseResult, method, ["check"], null); // bad flags fail before the model loads
            IAggregator[]? aggregation = shared.CreateAggregation(parseResult);
            if (formatId == DatasetResultFormat.Parquet)
            {
                aggregation ??= []; // Parquet rows hold one score per token pair: the default aggregation
            }

            string modelDir = parseResult.GetValue(shared.Model)!;
            JsonObject settings = DatasetRunSettings.Create(parseResult, shared, method, modelDir, path, parseResult.GetValue(textColumn)!, parseResult.GetValue(generatedColumn));
            using NativeAttributionModel model = NativeAttributionModel.Load(modelDir, method,
                tokenizer: CommonOptions.TokenizerKindOf(parseResult.GetValue(shared.Tokenizer)),
                dtype: CommonOptions.ParseDType(parseResult.GetValue(shared.DType)));
            var options = new DatasetAttributionOptions(
                directory,
                JsonLines: formatId == DatasetResultFormat.JsonLines,
                Overwrite: parseResult.GetValue(shared.Overwrite),
                Aggregators: aggregation,
                DatasetName: Path.GetFileName(path))
            {
                Settings = settings,
                Shard = part,
                BatchSize = batchSize,
                BucketKey = row => BucketKey(model, row),
                FileFormat = formatId == DatasetResultFormat.Parquet ? ParquetFormat : null,
            };

            using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true; // finish the file being written, then stop
                interrupt.Cancel();
            };
            Console.CancelKeyPress += onCancel;
            try
            {
                FeatureAttributionOutputFactory attribute = (batch, token) =>
                {
                    // Rows with and without forced outputs go separately (one request has one or the other).
                    var results = new Data.FeatureAttributionOutput[batch.Count];
                    foreach (var group in Enumerable.Range(0, batch.Count).GroupBy(i => batch[i].Generated is null))
                    {
                        var idx = group.ToList();
                        string[]? forced = group.Key ? null : [.. idx.Select(i => batch[i].Generated!)];
                        AttributionRequest request = shared.CreateRequest(parseResult, method, [.. idx.Select(i => batch[i].Text!)], forced);
                        request = request with { BatchSize = batchSize };
                        var outputs = model.AttributeEach(request, token);
                        for (int j = 0; j < idx.Count; j++)
                        {
                            results[idx[j]] = outputs[j];
                        }
                    }

                    return results;
                };
                bool terminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && !parseResult.GetValue(plain);
                DatasetAttributionSummary summary = terminal
                    ? RunWithProgressBar(rows, attribute, options, interrupt.Token)
                    : RunWithLines(rows, attribute, options, output, interrupt.Token);
                return Report(summary, options, parseResult.InvocationConfiguration.Error, output);
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        });
        return command;
    }

    private delegate IReadOnlyList<Data.FeatureAttributionOutput> FeatureAttributionOutputFactory(IReadOnlyList<DatasetRow> rows, CancellationToken token);

    private static DatasetAttributionSummary RunWithLines(
        IReadOnlyList<DatasetRow> rows, FeatureAttributionOutputFactory attribute, DatasetAttributionOptions options, TextWriter output, CancellationToken token)
    {
        WriteResumeNote(rows, options, output);
        return DatasetAttributor.RunBatched(rows, (r, t) => attribute(r, t), options, p =>
        {
            string what = p.Outcome == DatasetRowOutcome.Saved
                ? $"saved {Path.GetFileName(p.Message)}"
                : $"FAILED line {p.Row.Line}: {p.Message}";
            string eta = p.Remaining is TimeSpan left ? FormatTime(left) : "?";
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[{p.Completed}/{p.Total}] example {p.Row.Number} (line {p.Row.Line}): {what}  {p.Rate:0.00} ex/s  ETA {eta}"));
        }, token);
    }

    private static DatasetAttributionSummary RunWithProgressBar(
        IReadOnlyList<DatasetRow> rows, FeatureAttributionOutputFactory attribute, DatasetAttributionOptions options, CancellationToken token)
    {
        IAnsiConsole console = AnsiConsole.Console;
        WriteResumeNote(rows, options, Console.Out);
        DatasetAttributionSummary? summary = null;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RateColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                ProgressTask task = context.AddTask("attributing", maxValue: Math.Max(1, rows.Count));
                summary = DatasetAttributor.RunBatched(rows, (r, t) => attribute(r, t), options, p =>
                {
                    task.MaxValue = Math.Max(1, p.Total); // rows saved by an earlier run are not counted
                    task.Value = p.Completed;
                    task.Description = p.Outcome == DatasetRowOutcome.Saved ? $"example {p.Row.Number}" : $"[red]line {p.Row.Line} failed[/]";
                    if (p.Outcome == DatasetRowOutcome.Failed)
                    {
                        console.MarkupLineInterpolated($"[red]line {p.Row.Line}[/] (example {p.Row.Number}): {p.Message}");
                    }
                }, token);
                task.Value = task.MaxValue;
            });
        return summary!;
    }

    private static void WriteResumeNote(IReadOnlyList<DatasetRow> rows, DatasetAttributionOptions options, TextWriter output)
    {
        string shardNote = options.Shard is { } part ? $" (shard {part}: {rows.Count(part.Contains)} of them)" : string.Empty;
        output.WriteLine($"{rows.Count} examples in {options.DatasetName}{shardNote}; results in {options.OutputDirectory}{(options.JsonLines ? "/" + DatasetAttributor.JsonLinesFileName : string.Empty)}");
    }

    /// <summary>Length bucket of a row: its input's token count and its forced output's, so that a batch holds
    /// rows that need no padding.</summary>
    private static long BucketKey(NativeAttributionModel model, DatasetRow row)
    {
        long source = model.Tokenizer.Encode(row.Text!).Count;
        long target = row.Generated is null ? 0 : model.Tokenizer.Encode(row.Generated, asTarget: model.IsEncoderDecoder).Count;
        return (source << 32) | target;
    }

    private static readonly DatasetFileFormat ParquetFormat = new("parquet", ".parquet", output =>
        AttributionParquet.Serialize(AttributionParquet.Rows(
            output,
            output.Info["dataset_example"]?.GetValue<int>() ?? 0,
            output.Info["dataset_line"]?.GetValue<int>() ?? 0)));

    private static int Report(DatasetAttributionSummary summary, DatasetAttributionOptions options, TextWriter error, TextWriter output)
    {
        output.WriteLine($"saved {summary.Saved}, already saved (skipped) {summary.Skipped}, failed {summary.Failures.Count}, of {summary.Total} examples");
        if (summary.Cancelled)
        {
            error.WriteLine($"error: interrupted; {summary.Saved + summary.Skipped} of {summary.Total} examples are saved in {options.OutputDirectory}.");
            error.WriteLine("Run the same command again to resume.");
            return Interrupted;
        }

        if (summary.Failures.Count > 0)
        {
            foreach (DatasetFailure failure in summary.Failures)
            {
                error.WriteLine($"error: line {failure.Row.Line} (example {failure.Row.Number}): {failure.Error}");
            }

            return ExitCodes.Failure;
        }

        return ExitCodes.Success;
    }

    private static string FormatTime(TimeSpan time) =>
        time.TotalHours >= 1 ? time.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : time.ToString(@"m\:ss", CultureInfo.InvariantCulture);

    /// <summary>Examples per second.</summary>
    private sealed class RateColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.Speed is double speed ? string.Create(CultureInfo.InvariantCulture, $"{speed:0.00} ex/s") : "- ex/s");
    }
}
