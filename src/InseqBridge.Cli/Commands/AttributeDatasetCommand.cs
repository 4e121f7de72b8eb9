using InseqBridge.Aggregation;
using System.CommandLine;
using System.Globalization;
using InseqBridge.Attribution;
using InseqBridge.Datasets;
using InseqBridge.TorchSharp.Attribution;
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
        var command = new Command(
            "attribute-dataset",
            "Attribute every example of a dataset file; resumable (saved examples are skipped unless --overwrite).")
        {
            dataset, textColumn, generatedColumn, outputDir, jsonl, plain,
        };
        shared.AddTo(command);
        command.SetAction(parseResult =>
        {
            TextWriter output = parseResult.InvocationConfiguration.Output;
            string path = parseResult.GetValue(dataset)!;
            string directory = parseResult.GetValue(outputDir) ?? path + ".attributions";
            IReadOnlyList<DatasetRow> rows = DatasetReader.Read(path, parseResult.GetValue(textColumn)!, parseResult.GetValue(generatedColumn));
            AttributionMethod method = shared.CreateMethod(parseResult);
            _ = shared.CreateRequest(parseResult, method, ["check"], null); // bad flags fail before the model loads
            IAggregator[]? aggregation = shared.CreateAggregation(parseResult);
            using NativeAttributionModel model = NativeAttributionModel.Load(parseResult.GetValue(shared.Model)!, method,
                tokenizer: CommonOptions.TokenizerKindOf(parseResult.GetValue(shared.Tokenizer)),
                dtype: CommonOptions.ParseDType(parseResult.GetValue(shared.DType)));
            var options = new DatasetAttributionOptions(
                directory,
                JsonLines: parseResult.GetValue(jsonl),
                Overwrite: parseResult.GetValue(shared.Overwrite),
                Aggregators: aggregation,
                DatasetName: Path.GetFileName(path));

            using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true; // finish the file being written, then stop
                interrupt.Cancel();
            };
            Console.CancelKeyPress += onCancel;
            try
            {
                FeatureAttributionOutputFactory attribute = (row, token) => model.Attribute(
                    shared.CreateRequest(parseResult, method, [row.Text!], row.Generated is null ? null : [row.Generated]), token);
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

    private delegate Data.FeatureAttributionOutput FeatureAttributionOutputFactory(DatasetRow row, CancellationToken token);

    private static DatasetAttributionSummary RunWithLines(
        IReadOnlyList<DatasetRow> rows, FeatureAttributionOutputFactory attribute, DatasetAttributionOptions options, TextWriter output, CancellationToken token)
    {
        WriteResumeNote(rows, options, output);
        return DatasetAttributor.Run(rows, (r, t) => attribute(r, t), options, p =>
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
                summary = DatasetAttributor.Run(rows, (r, t) => attribute(r, t), options, p =>
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
        output.WriteLine($"{rows.Count} examples in {options.DatasetName}; results in {options.OutputDirectory}{(options.JsonLines ? "/" + DatasetAttributor.JsonLinesFileName : string.Empty)}");
    }

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
