using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using InseqBridge.Aggregation;
using InseqBridge.Data;
using InseqBridge.Serialization;

namespace InseqBridge.Datasets;

/// <summary>Where and how <see cref="DatasetAttributor"/> saves results.</summary>
/// <param name="OutputDirectory">Folder of the results (created when missing).</param>
/// <param name="JsonLines">Append every result to one <see cref="DatasetAttributor.JsonLinesFileName"/> instead of
/// writing one Inseq JSON file per example.</param>
/// <param name="Overwrite">Attribute and replace examples that are already saved (default: skip them, resuming an
/// interrupted run).</param>
/// <param name="Aggregators">Save an aggregation instead of the raw attributions: an empty array for Inseq's default
/// pipeline, or the aggregators to apply in order (null: raw).</param>
/// <param name="DatasetName">Recorded as <c>info["dataset"]</c> in every result.</param>
public sealed record DatasetAttributionOptions(
    string OutputDirectory,
    bool JsonLines = false,
    bool Overwrite = false,
    IReadOnlyList<IAggregator>? Aggregators = null,
    string? DatasetName = null);

/// <summary>What happened to one row.</summary>
public enum DatasetRowOutcome
{
    /// <summary>Attributed and saved.</summary>
    Saved,

    /// <summary>Bad row, or the attribution failed; nothing saved.</summary>
    Failed,
}

/// <summary>Progress after one row.</summary>
/// <param name="Row">The row.</param>
/// <param name="Outcome">What happened.</param>
/// <param name="Message">The saved file, or why the row failed.</param>
/// <param name="Completed">Rows handled so far in this run (skipped ones excluded).</param>
/// <param name="Total">Rows this run handles (skipped ones excluded).</param>
/// <param name="Elapsed">Time since the run started.</param>
public sealed record DatasetProgress(DatasetRow Row, DatasetRowOutcome Outcome, string Message, int Completed, int Total, TimeSpan Elapsed)
{
    /// <summary>Rows per second so far.</summary>
    public double Rate => Elapsed.TotalSeconds > 0 ? Completed / Elapsed.TotalSeconds : 0;

    /// <summary>Estimated time left at the current rate, or null before the first row.</summary>
    public TimeSpan? Remaining => Completed > 0 ? TimeSpan.FromSeconds(Elapsed.TotalSeconds / Completed * (Total - Completed)) : null;
}

/// <summary>A row that failed and why.</summary>
/// <param name="Row">The row.</param>
/// <param name="Error">The reason (one line).</param>
public sealed record DatasetFailure(DatasetRow Row, string Error);

/// <summary>The result of <see cref="DatasetAttributor.Run"/>.</summary>
/// <param name="Total">Rows in the dataset.</param>
/// <param name="Saved">Rows attributed and saved by this run.</param>
/// <param name="Skipped">Rows already saved by an earlier run.</param>
/// <param name="Failures">Rows that failed, in dataset order.</param>
/// <param name="Cancelled">True when the run stopped on cancellation (everything saved so far is complete).</param>
public sealed record DatasetAttributionSummary(int Total, int Saved, int Skipped, IReadOnlyList<DatasetFailure> Failures, bool Cancelled)
{
    /// <summary>True when every row is saved.</summary>
    public bool Complete => !Cancelled && Failures.Count == 0;
}

/// <summary>
/// Attributes every row of a dataset, saving as it goes. Resumable: examples saved by an earlier run are skipped.
/// Robust: a bad row or a failed attribution is recorded and the others still run. Safe to interrupt: each file is
/// written to a temporary name and renamed into place (JSONL: one whole line per append; a torn last line left by a
/// killed process is dropped on the next run), so cancellation never leaves a half-written result.
/// </summary>
public static partial class DatasetAttributor
{
    /// <summary>Name of the results file in JSONL mode.</summary>
    public const string JsonLinesFileName = "attributions.jsonl";

    /// <summary>The file an example is saved to in one-file-per-example mode.</summary>
    public static string ExampleFileName(int number) => string.Create(CultureInfo.InvariantCulture, $"example-{number:D6}.json");

    /// <summary>Attributes the rows.</summary>
    /// <param name="rows">The dataset (see <see cref="DatasetReader"/>).</param>
    /// <param name="attribute">Attributes one valid row (its text and optional forced output).</param>
    /// <param name="options">Where to save.</param>
    /// <param name="progress">Called after each handled row, or null.</param>
    /// <param name="cancellationToken">Stops the run between (or inside) examples; completed results stay saved.</param>
    public static DatasetAttributionSummary Run(
        IReadOnlyList<DatasetRow> rows,
        Func<DatasetRow, CancellationToken, FeatureAttributionOutput> attribute,
        DatasetAttributionOptions options,
        Action<DatasetProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(attribute);
        ArgumentNullException.ThrowIfNull(options);
        Directory.CreateDirectory(options.OutputDirectory);
        string jsonlPath = Path.Combine(options.OutputDirectory, JsonLinesFileName);
        HashSet<int> done = options.Overwrite ? [] : options.JsonLines ? RecoverJsonLines(jsonlPath) : [];
        if (options.JsonLines && options.Overwrite && File.Exists(jsonlPath))
        {
            File.Delete(jsonlPath);
        }

        var todo = rows.Where(r => options.JsonLines
            ? !done.Contains(r.Number)
            : options.Overwrite || !File.Exists(Path.Combine(options.OutputDirectory, ExampleFileName(r.Number)))).ToList();
        int skipped = rows.Count - todo.Count, saved = 0;
        var failures = new List<DatasetFailure>();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < todo.Count; i++)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                return new DatasetAttributionSummary(rows.Count, saved, skipped, failures, Cancelled: true);
            }

            DatasetRow row = todo[i];
            DatasetRowOutcome outcome;
            string message;
            try
            {
                if (!row.IsValid)
                {
                    throw new DatasetRowException(row.Error!);
                }

                FeatureAttributionOutput output = attribute(row, cancellationToken);
                if (options.Aggregators is { } aggregators)
                {
                    output = output.Aggregate([.. aggregators]);
                }

                var info = (JsonObject)output.Info.DeepClone();
                if (options.DatasetName is not null)
                {
                    info["dataset"] = options.DatasetName;
                }

                info["dataset_example"] = row.Number;
                info["dataset_line"] = row.Line;
                string json = InseqJson.Serialize(output with { Info = info });
                message = options.JsonLines
                    ? AppendLine(jsonlPath, Compact(json))
                    : WriteAtomically(Path.Combine(options.OutputDirectory, ExampleFileName(row.Number)), json);
                outcome = DatasetRowOutcome.Saved;
                saved++;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return new DatasetAttributionSummary(rows.Count, saved, skipped, failures, Cancelled: true);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                message = OneLine(e.Message);
                failures.Add(new DatasetFailure(row, message));
                outcome = DatasetRowOutcome.Failed;
            }

            progress?.Invoke(new DatasetProgress(row, outcome, message, i + 1, todo.Count, clock.Elapsed));
        }

        return new DatasetAttributionSummary(rows.Count, saved, skipped, failures, Cancelled: false);
    }

    /// <summary>Writes <paramref name="text"/> to a temporary file next to <paramref name="path"/>, then renames it
    /// into place, so the file is either absent or complete.</summary>
    /// <returns>The path.</returns>
    public static string WriteAtomically(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(text);
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                byte[] bytes = new UTF8Encoding(false).GetBytes(text);
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }

        return path;
    }

    /// <summary>The example numbers saved in a JSONL results file; drops a torn last line (no line end, or not
    /// valid JSON) left by a process killed while writing.</summary>
    private static HashSet<int> RecoverJsonLines(string path)
    {
        var numbers = new HashSet<int>();
        if (!File.Exists(path))
        {
            return numbers;
        }

        string content = File.ReadAllText(path, Encoding.UTF8);
        int keep = 0, start = 0;
        while (start < content.Length)
        {
            int end = content.IndexOf('\n', start);
            if (end < 0)
            {
                break; // no line end: torn
            }

            string line = content[start..end];
            if (ExampleNumber(line) is not int number)
            {
                break;
            }

            numbers.Add(number);
            keep = start = end + 1;
        }

        if (keep < content.Length)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
            stream.SetLength(new UTF8Encoding(false).GetByteCount(content.AsSpan(0, keep)));
        }

        return numbers;
    }

    private static int? ExampleNumber(string line)
    {
        try
        {
            JsonNode? root = PythonJsonReader.Parse(line, JsonLinesFileName);
            string? text = (root?["attributes"]?["info"] ?? root?["info"])?["dataset_example"]?.ToJsonString();
            return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int number) ? number : null;
        }
        catch (Exception e) when (e is InseqJsonException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    private static string AppendLine(string path, string line)
    {
        byte[] bytes = new UTF8Encoding(false).GetBytes(line + "\n");
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write);
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
        return path;
    }

    // JSON strings cannot hold raw line breaks, so every line break of the indented text is formatting.
    private static string Compact(string json) => IndentPattern().Replace(json, string.Empty);

    private static string OneLine(string text)
    {
        int newline = text.IndexOfAny(['\r', '\n']);
        return newline < 0 ? text : text[..newline];
    }

    [GeneratedRegex("\r?\n[ \t]*")]
    private static partial Regex IndentPattern();

    private sealed class DatasetRowException(string message) : Exception(message);
}
