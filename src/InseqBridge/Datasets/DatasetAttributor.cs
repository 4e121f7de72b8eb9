using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using InseqBridge.Aggregation;
using InseqBridge.Data;
using InseqBridge.Errors;
using InseqBridge.Serialization;

namespace InseqBridge.Datasets;

/// <summary>Where and how <see cref="DatasetAttributor"/> saves results.</summary>
/// <param name="OutputDirectory">Folder of the results (created when missing).</param>
/// <param name="JsonLines">Append every result to one <see cref="DatasetAttributor.JsonLinesFileName"/> instead of
/// writing one Inseq JSON file per example.</param>
/// <param name="Overwrite">Start over: remove the folder's earlier results (and its recorded settings) first
/// (default: skip saved examples, resuming an interrupted run with the same settings).</param>
/// <param name="Aggregators">Save an aggregation instead of the raw attributions: an empty array for Inseq's default
/// pipeline, or the aggregators to apply in order (null: raw).</param>
/// <param name="DatasetName">Recorded as <c>info["dataset"]</c> in every result.</param>
public sealed record DatasetAttributionOptions(
    string OutputDirectory,
    bool JsonLines = false,
    bool Overwrite = false,
    IReadOnlyList<IAggregator>? Aggregators = null,
    string? DatasetName = null)
{
    /// <summary>The settings that decide the results (model, its file hashes, method, arguments, step scores,
    /// aggregation, dataset...), recorded in <see cref="DatasetRunRecord.FileName"/>: a resume with other settings is
    /// refused. Null records only the output format.</summary>
    public JsonObject? Settings { get; init; }

    /// <summary>Attribute only this shard's rows (null: all rows).</summary>
    public DatasetShard? Shard { get; init; }

    /// <summary>Rows per call of the batch attribution function (default 1). Rows are grouped by
    /// <see cref="BucketKey"/> first, so that one call gets rows of equal length.</summary>
    public int BatchSize { get; init; } = 1;

    /// <summary>The length bucket of a row (e.g. its token counts); rows of a batch share one bucket. Null: batches
    /// follow the dataset order.</summary>
    public Func<DatasetRow, long>? BucketKey { get; init; }

    /// <summary>How one-file-per-example results are written (null: Inseq JSON, <c>example-N.json</c>). Ignored
    /// with <see cref="JsonLines"/>.</summary>
    public DatasetFileFormat? FileFormat { get; init; }
}

/// <summary>A file format for one result per file.</summary>
/// <param name="Id">Recorded in the run's settings (e.g. <c>parquet</c>).</param>
/// <param name="Extension">File extension with the dot (e.g. <c>.parquet</c>).</param>
/// <param name="Serialize">The file's bytes for one result (its info already holds the dataset fields).</param>
public sealed record DatasetFileFormat(string Id, string Extension, Func<FeatureAttributionOutput, byte[]> Serialize);

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
/// <param name="Total">Rows this run is responsible for (the dataset, or the shard's rows).</param>
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
    public static string ExampleFileName(int number) => ExampleFileName(number, ".json");

    /// <summary>The file an example is saved to in one-file-per-example mode with another extension.</summary>
    public static string ExampleFileName(int number, string extension) => string.Create(CultureInfo.InvariantCulture, $"example-{number:D6}{extension}");

    /// <summary>The example number of a result file name (<c>example-000012.json</c>), or null.</summary>
    public static int? ExampleNumberOf(string fileName)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        Match match = ExampleFilePattern().Match(Path.GetFileName(fileName));
        return match.Success ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    }

    /// <summary>Attributes the rows one at a time.</summary>
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
        ArgumentNullException.ThrowIfNull(attribute);
        return RunBatched(rows, (batch, token) => batch.Select(r => attribute(r, token)).ToList(), options, progress, cancellationToken);
    }

    /// <summary>
    /// Attributes the rows several at a time (<see cref="DatasetAttributionOptions.BatchSize"/> per call, grouped by
    /// <see cref="DatasetAttributionOptions.BucketKey"/>). A call that fails is retried one row at a time, so a bad
    /// row fails alone. Holds an OS lock on the output folder for the whole run (a second run on the same folder is
    /// refused at once), records the settings, and refuses to resume results of other settings.
    /// </summary>
    /// <param name="rows">The dataset (see <see cref="DatasetReader"/>).</param>
    /// <param name="attribute">Attributes several valid rows; returns one result per row, in order.</param>
    /// <param name="options">Where to save.</param>
    /// <param name="progress">Called after each handled row, or null.</param>
    /// <param name="cancellationToken">Stops the run between (or inside) calls; completed results stay saved.</param>
    /// <exception cref="DatasetRunConflictException">Another run holds the folder, or it holds results of other
    /// settings or of another shard.</exception>
    public static DatasetAttributionSummary RunBatched(
        IReadOnlyList<DatasetRow> rows,
        Func<IReadOnlyList<DatasetRow>, CancellationToken, IReadOnlyList<FeatureAttributionOutput>> attribute,
        DatasetAttributionOptions options,
        Action<DatasetProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(attribute);
        ArgumentNullException.ThrowIfNull(options);
        if (options.BatchSize < 1)
        {
            throw new InvalidInputException($"The batch size must be at least 1 (got {options.BatchSize}).");
        }

        string directory = options.OutputDirectory;
        Directory.CreateDirectory(directory);
        using FileStream folderLock = Lock(directory);
        var mine = options.Shard is { } shard ? rows.Where(shard.Contains).ToList() : rows.ToList();
        string jsonlPath = Path.Combine(directory, JsonLinesFileName);
        string extension = options.FileFormat?.Extension ?? ".json";
        PrepareFolder(rows, options);
        HashSet<int> done = options.JsonLines ? RecoverJsonLines(jsonlPath) : SavedFiles(directory, extension);

        var todo = mine.Where(r => !done.Contains(r.Number)).ToList();
        int skipped = mine.Count - todo.Count, saved = 0, handled = 0;
        var failures = new List<DatasetFailure>();
        var savedNow = new HashSet<int>();
        var earlierFailures = DatasetFailureRecord.Load(directory).Where(f => done.Contains(f.Number) is false).ToList();
        var clock = Stopwatch.StartNew();
        void Report(DatasetRow row, DatasetRowOutcome outcome, string message)
        {
            handled++;
            if (outcome == DatasetRowOutcome.Failed)
            {
                failures.Add(new DatasetFailure(row, message));
                SaveFailures(directory, earlierFailures, failures, savedNow);
            }

            progress?.Invoke(new DatasetProgress(row, outcome, message, handled, todo.Count, clock.Elapsed));
        }

        DatasetAttributionSummary Summary(bool cancelled)
        {
            SaveFailures(directory, earlierFailures, failures, savedNow);
            return new DatasetAttributionSummary(mine.Count, saved, skipped, failures, cancelled);
        }

        foreach (IReadOnlyList<DatasetRow> batch in Batches(todo, options))
        {
            if (cancellationToken.IsCancellationRequested)
            {
                return Summary(cancelled: true);
            }

            if (batch.Count == 1 && !batch[0].IsValid)
            {
                Report(batch[0], DatasetRowOutcome.Failed, batch[0].Error!);
                continue;
            }

            IReadOnlyList<FeatureAttributionOutput>? outputs = null;
            try
            {
                outputs = attribute(batch, cancellationToken);
                if (outputs.Count != batch.Count)
                {
                    throw new InvalidOperationException($"{outputs.Count} results for {batch.Count} rows.");
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return Summary(cancelled: true);
            }
            catch (Exception e) when (e is not OutOfMemoryException && batch.Count > 1)
            {
                outputs = null; // find the failing rows one at a time
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Report(batch[0], DatasetRowOutcome.Failed, OneLine(e.Message));
                continue;
            }

            for (int i = 0; i < batch.Count; i++)
            {
                DatasetRow row = batch[i];
                if (cancellationToken.IsCancellationRequested && outputs is null)
                {
                    return Summary(cancelled: true);
                }

                string message;
                DatasetRowOutcome outcome;
                try
                {
                    FeatureAttributionOutput output = outputs?[i] ?? attribute([row], cancellationToken).Single();
                    message = Save(row, output, options, jsonlPath, extension);
                    outcome = DatasetRowOutcome.Saved;
                    savedNow.Add(row.Number);
                    saved++;
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return Summary(cancelled: true);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    message = OneLine(e.Message);
                    outcome = DatasetRowOutcome.Failed;
                }

                Report(row, outcome, message);
            }
        }

        return Summary(cancelled: false);
    }

    /// <summary>Batches of rows: bad rows alone and in dataset order; valid ones in dataset order (batch size 1 or no
    /// bucket key) or grouped by bucket, each bucket in dataset order, cut into batches of at most the batch size.</summary>
    private static IEnumerable<IReadOnlyList<DatasetRow>> Batches(List<DatasetRow> todo, DatasetAttributionOptions options)
    {
        if (options.BatchSize == 1 || options.BucketKey is null)
        {
            var current = new List<DatasetRow>();
            foreach (DatasetRow row in todo)
            {
                if (!row.IsValid)
                {
                    if (current.Count > 0)
                    {
                        yield return current;
                        current = [];
                    }

                    yield return [row];
                    continue;
                }

                current.Add(row);
                if (current.Count == options.BatchSize)
                {
                    yield return current;
                    current = [];
                }
            }

            if (current.Count > 0)
            {
                yield return current;
            }

            yield break;
        }

        foreach (DatasetRow bad in todo.Where(r => !r.IsValid))
        {
            yield return [bad];
        }

        foreach (var bucket in todo.Where(r => r.IsValid).GroupBy(options.BucketKey).OrderBy(g => g.Key))
        {
            foreach (DatasetRow[] chunk in bucket.Chunk(options.BatchSize))
            {
                yield return chunk;
            }
        }
    }

    private static string Save(DatasetRow row, FeatureAttributionOutput output, DatasetAttributionOptions options, string jsonlPath, string extension)
    {
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
        output = output with { Info = info };
        string path = Path.Combine(options.OutputDirectory, ExampleFileName(row.Number, extension));
        if (options.JsonLines)
        {
            return AppendLine(jsonlPath, Compact(InseqJson.Serialize(output)));
        }

        return options.FileFormat is { } format
            ? WriteAtomically(path, format.Serialize(output))
            : WriteAtomically(path, InseqJson.Serialize(output));
    }

    /// <summary>Takes the folder's lock: an exclusive open of <see cref="DatasetRunRecord.LockFileName"/> (an OS lock
    /// on Linux and macOS via flock, on Windows via the share mode), released by the kernel when the process dies.</summary>
    private static FileStream Lock(string directory)
    {
        string path = Path.Combine(directory, DatasetRunRecord.LockFileName);
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new DatasetRunConflictException(
                $"Another attribute-dataset run is writing to {directory} (it holds {DatasetRunRecord.LockFileName}): wait for it to finish, or give another --output.");
        }
    }

    /// <summary>Checks the folder's record against this run (or starts over with <c>Overwrite</c>), then writes it.</summary>
    private static void PrepareFolder(IReadOnlyList<DatasetRow> allRows, DatasetAttributionOptions options)
    {
        string directory = options.OutputDirectory;
        int datasetRows = allRows.Count;
        var settings = (JsonObject?)options.Settings?.DeepClone() ?? [];
        settings["output_format"] = options.JsonLines ? "jsonl" : options.FileFormat?.Id ?? "json";
        settings["aggregated"] = options.Aggregators is not null;
        var record = new DatasetRunRecord(settings, options.Shard, datasetRows, allRows.Select(r => (r.Number, r.Line)).ToList());
        foreach (string stale in Directory.EnumerateFiles(directory, ".*.tmp"))
        {
            File.Delete(stale); // left by a process killed while writing (this run holds the lock)
        }

        string[] results = ResultFiles(directory);
        if (options.Overwrite)
        {
            foreach (string file in results.Append(Path.Combine(directory, DatasetRunRecord.FailuresFileName)).Where(File.Exists))
            {
                File.Delete(file);
            }
        }
        else if (DatasetRunRecord.Load(directory) is { } earlier)
        {
            if (!DatasetRunRecord.SameSettings(earlier.Settings, settings))
            {
                string changes = string.Join("; ", DatasetRunRecord.Differences(earlier.Settings, settings).Take(4)
                    .Select(k => $"{k} was {DatasetRunRecord.Describe(earlier.Settings[k])}, now {DatasetRunRecord.Describe(settings[k])}"));
                throw new DatasetRunConflictException(
                    $"{directory} holds results of a run with other settings ({changes}): resume with the same settings, give another --output, or pass --overwrite to start over.");
            }

            if (earlier.Shard != options.Shard)
            {
                throw new DatasetRunConflictException(
                    $"{directory} holds {Describe(earlier.Shard)}, this run is {Describe(options.Shard)}: give each shard its own folder, or pass --overwrite to start over.");
            }

            if (earlier.DatasetRows != datasetRows)
            {
                throw new DatasetRunConflictException(
                    $"{directory} holds results of a dataset of {earlier.DatasetRows} rows, this one has {datasetRows}: give another --output, or pass --overwrite to start over.");
            }
        }
        else if (results.Length > 0)
        {
            throw new DatasetRunConflictException(
                $"{directory} holds results but no {DatasetRunRecord.FileName} recording their settings (an older inseq-bridge wrote them?): give another --output, or pass --overwrite to start over.");
        }

        WriteAtomically(Path.Combine(directory, DatasetRunRecord.FileName), record.ToJson());
    }

    private static string Describe(DatasetShard? shard) => shard is null ? "the whole dataset" : $"shard {shard}";

    /// <summary>Result files in the folder: the JSONL file and every example file.</summary>
    private static string[] ResultFiles(string directory) =>
        [.. Directory.EnumerateFiles(directory).Where(f => Path.GetFileName(f) == JsonLinesFileName || ExampleNumberOf(f) is not null)];

    private static HashSet<int> SavedFiles(string directory, string extension) =>
        [.. Directory.EnumerateFiles(directory, "example-*" + extension).Select(f => ExampleNumberOf(f)).OfType<int>()];

    private static void SaveFailures(string directory, List<DatasetFailureRecord> earlier, List<DatasetFailure> failures, HashSet<int> savedNow)
    {
        var current = failures.Select(f => new DatasetFailureRecord(f.Row.Number, f.Row.Line, f.Error)).ToList();
        var attempted = current.Select(f => f.Number).Concat(savedNow).ToHashSet();
        var all = earlier.Where(f => !attempted.Contains(f.Number)).Concat(current).OrderBy(f => f.Number).ToList();
        if (all.Count > 0 || File.Exists(Path.Combine(directory, DatasetRunRecord.FailuresFileName)))
        {
            DatasetFailureRecord.Save(directory, all);
        }
    }

    /// <summary>Writes <paramref name="text"/> to a temporary file next to <paramref name="path"/>, then renames it
    /// into place, so the file is either absent or complete.</summary>
    /// <returns>The path.</returns>
    public static string WriteAtomically(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return WriteAtomically(path, new UTF8Encoding(false).GetBytes(text));
    }

    /// <summary>Writes <paramref name="bytes"/> to a temporary file next to <paramref name="path"/>, then renames it
    /// into place, so the file is either absent or complete.</summary>
    /// <returns>The path.</returns>
    public static string WriteAtomically(string path, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(bytes);
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
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
    internal static HashSet<int> RecoverJsonLines(string path)
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

    internal static int? ExampleNumber(string line)
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
        // One unbuffered write per line: a kill leaves the line whole or torn at the end, never interleaved (the
        // folder lock admits one writer), and a torn end is dropped by the next run.
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0);
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
        return path;
    }

    // JSON strings cannot hold raw line breaks, so every line break of the indented text is formatting.
    internal static string Compact(string json) => IndentPattern().Replace(json, string.Empty);

    private static string OneLine(string text)
    {
        int newline = text.IndexOfAny(['\r', '\n']);
        return newline < 0 ? text : text[..newline];
    }

    [GeneratedRegex("\r?\n[ \t]*")]
    private static partial Regex IndentPattern();

    [GeneratedRegex(@"^example-(\d+)\.[A-Za-z.]+$")]
    private static partial Regex ExampleFilePattern();

}
