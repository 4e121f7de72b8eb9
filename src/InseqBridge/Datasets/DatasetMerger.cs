using System.Text;
using InseqBridge.Errors;

namespace InseqBridge.Datasets;

/// <summary>Where one saved example is: a result file, or a line of a JSONL results file.</summary>
/// <param name="Number">Example number.</param>
/// <param name="Line">Line of the dataset file.</param>
/// <param name="FilePath">The example's own file (Inseq JSON, or another per-example format), or null.</param>
/// <param name="JsonLine">The example's line of <see cref="DatasetAttributor.JsonLinesFileName"/>, or null.</param>
public sealed record DatasetSavedExample(int Number, int Line, string? FilePath, string? JsonLine)
{
    /// <summary>The example as compact Inseq JSON (one line).</summary>
    /// <exception cref="InvalidInputException">A per-example file that is not Inseq JSON.</exception>
    public string ToJsonLine()
    {
        if (JsonLine is not null)
        {
            return JsonLine;
        }

        if (!FilePath!.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidInputException($"{FilePath} is not Inseq JSON: merge it into the same format it was written in (a .parquet --output for Parquet results).");
        }

        return DatasetAttributor.Compact(File.ReadAllText(FilePath, Encoding.UTF8));
    }
}

/// <summary>The shard folders of one run gathered for merging: the saved examples in row order, the rows that are
/// missing or failed (by line), and the common settings.</summary>
/// <param name="Record">The run record of the first folder (its settings are everyone's).</param>
/// <param name="Examples">Saved examples in row order.</param>
/// <param name="Missing">Rows no folder has saved (no result and no recorded failure), in row order.</param>
/// <param name="Failed">Rows whose last attempt failed, in row order.</param>
/// <param name="Folders">The result folders merged.</param>
public sealed record DatasetMergePlan(
    DatasetRunRecord Record,
    IReadOnlyList<DatasetSavedExample> Examples,
    IReadOnlyList<(int Number, int Line)> Missing,
    IReadOnlyList<DatasetFailureRecord> Failed,
    IReadOnlyList<string> Folders)
{
    /// <summary>True when every row of the dataset is saved.</summary>
    public bool Complete => Missing.Count == 0 && Failed.Count == 0;
}

/// <summary>
/// Gathers the results of a sharded (or whole) <c>attribute-dataset</c> run: every folder must hold a run record of the
/// same settings and dataset; shards may not repeat; rows of absent shards, and rows a shard has not saved, are
/// reported as missing by line.
/// </summary>
public static class DatasetMerger
{
    /// <summary>Finds the result folders under <paramref name="paths"/> (a folder with a run record, or a folder whose
    /// subfolders have one, e.g. the <c>--output</c> of a sharded run) and plans the merge.</summary>
    /// <exception cref="InvalidInputException">No results, folders of different settings or datasets, or a shard given
    /// twice.</exception>
    public static DatasetMergePlan Plan(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var folders = new List<string>();
        foreach (string path in paths)
        {
            if (!Directory.Exists(path))
            {
                throw new InvalidInputException($"{path} is not a folder: give the --output folders of attribute-dataset (or their shard-K-of-N subfolders).");
            }

            if (File.Exists(Path.Combine(path, DatasetRunRecord.FileName)))
            {
                folders.Add(path);
                continue;
            }

            var found = Directory.EnumerateDirectories(path).Where(d => File.Exists(Path.Combine(d, DatasetRunRecord.FileName))).Order(StringComparer.Ordinal).ToList();
            if (found.Count == 0)
            {
                throw new InvalidInputException($"{path} holds no attribute-dataset results (no {DatasetRunRecord.FileName} in it or its subfolders).");
            }

            folders.AddRange(found);
        }

        if (folders.Count == 0)
        {
            throw new InvalidInputException("Nothing to merge: give at least one results folder.");
        }

        var records = folders.Select(f => DatasetRunRecord.Load(f)!).ToList();
        DatasetRunRecord first = records[0];
        var shardsSeen = new Dictionary<int, string>();
        for (int i = 0; i < records.Count; i++)
        {
            DatasetRunRecord record = records[i];
            if (!DatasetRunRecord.SameSettings(first.Settings, record.Settings))
            {
                string changes = string.Join("; ", DatasetRunRecord.Differences(first.Settings, record.Settings).Take(4)
                    .Select(k => $"{k} is {DatasetRunRecord.Describe(first.Settings[k])} in {folders[0]} but {DatasetRunRecord.Describe(record.Settings[k])} in {folders[i]}"));
                throw new InvalidInputException($"Refusing to mix results of different settings ({changes}): merge the folders of one run only.");
            }

            if (record.DatasetRows != first.DatasetRows)
            {
                throw new InvalidInputException($"{folders[i]} covers a dataset of {record.DatasetRows} rows, {folders[0]} one of {first.DatasetRows}: merge the folders of one run only.");
            }

            if ((record.Shard is null) != (first.Shard is null) || (record.Shard is { } s && s.Count != first.Shard!.Count) || (records.Count > 1 && record.Shard is null))
            {
                throw new InvalidInputException(
                    $"{folders[i]} holds {Describe(record.Shard)} and {folders[0]} {Describe(first.Shard)}: merge the shards of one sharded run (or one unsharded folder).");
            }

            if (record.Shard is { } shard && !shardsSeen.TryAdd(shard.Index, folders[i]))
            {
                throw new InvalidInputException($"Shard {shard} is given twice ({shardsSeen[shard.Index]} and {folders[i]}): give each shard once.");
            }
        }

        var saved = new Dictionary<int, DatasetSavedExample>();
        var failures = new Dictionary<int, DatasetFailureRecord>();
        for (int i = 0; i < records.Count; i++)
        {
            string folder = folders[i];
            var own = records[i].OwnRows.ToDictionary(r => r.Number, r => r.Line);
            foreach (DatasetSavedExample example in SavedExamples(folder, own))
            {
                saved.TryAdd(example.Number, example);
            }

            foreach (DatasetFailureRecord failure in DatasetFailureRecord.Load(folder))
            {
                failures.TryAdd(failure.Number, failure);
            }
        }

        var examples = new List<DatasetSavedExample>();
        var missing = new List<(int, int)>();
        var failed = new List<DatasetFailureRecord>();
        foreach ((int number, int line) in first.Rows.OrderBy(r => r.Number))
        {
            if (saved.TryGetValue(number, out DatasetSavedExample? example))
            {
                examples.Add(example);
            }
            else if (failures.TryGetValue(number, out DatasetFailureRecord? failure))
            {
                failed.Add(failure);
            }
            else
            {
                missing.Add((number, line));
            }
        }

        return new DatasetMergePlan(first, examples, missing, failed, folders);
    }

    /// <summary>Writes the plan's examples in row order as one JSONL file (atomically).</summary>
    public static void WriteJsonLines(DatasetMergePlan plan, string path)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(path);
        var text = new StringBuilder();
        foreach (DatasetSavedExample example in plan.Examples)
        {
            text.Append(example.ToJsonLine()).Append('\n');
        }

        DatasetAttributor.WriteAtomically(path, text.ToString());
    }

    /// <summary>Writes one file per example into <paramref name="directory"/> (Inseq JSON, or the per-example format
    /// the shards used).</summary>
    public static void WriteFiles(DatasetMergePlan plan, string directory)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(directory);
        Directory.CreateDirectory(directory);
        foreach (DatasetSavedExample example in plan.Examples)
        {
            if (example.FilePath is string file)
            {
                string extension = Path.GetFileName(file)[Path.GetFileName(file).IndexOf('.', StringComparison.Ordinal)..];
                DatasetAttributor.WriteAtomically(Path.Combine(directory, DatasetAttributor.ExampleFileName(example.Number, extension)), File.ReadAllBytes(file));
            }
            else
            {
                DatasetAttributor.WriteAtomically(Path.Combine(directory, DatasetAttributor.ExampleFileName(example.Number)), example.JsonLine!);
            }
        }
    }

    private static IEnumerable<DatasetSavedExample> SavedExamples(string folder, Dictionary<int, int> own)
    {
        string jsonl = Path.Combine(folder, DatasetAttributor.JsonLinesFileName);
        if (File.Exists(jsonl))
        {
            foreach (string line in CompleteLines(jsonl))
            {
                if (DatasetAttributor.ExampleNumber(line) is int number && own.TryGetValue(number, out int row))
                {
                    yield return new DatasetSavedExample(number, row, null, line);
                }
            }
        }

        foreach (string file in Directory.EnumerateFiles(folder, "example-*").Order(StringComparer.Ordinal))
        {
            if (DatasetAttributor.ExampleNumberOf(file) is int number && own.TryGetValue(number, out int row))
            {
                yield return new DatasetSavedExample(number, row, file, null);
            }
        }
    }

    /// <summary>The complete lines of a JSONL file (a torn last line without its line end is left out).</summary>
    private static IEnumerable<string> CompleteLines(string path)
    {
        string content = File.ReadAllText(path, Encoding.UTF8);
        int start = 0;
        while (start < content.Length)
        {
            int end = content.IndexOf('\n', start);
            if (end < 0)
            {
                yield break;
            }

            if (end > start)
            {
                yield return content[start..end];
            }

            start = end + 1;
        }
    }

    private static string Describe(DatasetShard? shard) => shard is null ? "an unsharded run" : $"shard {shard}";
}
