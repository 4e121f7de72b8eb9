using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using InseqBridge.Errors;

namespace InseqBridge.Datasets;

/// <summary>A dataset run cannot go on in its output folder: another run holds it, or it holds results of other
/// settings or another shard. The message names the folder and the way out.</summary>
public sealed class DatasetRunConflictException : InseqBridgeException
{
    /// <summary>Creates the exception.</summary>
    public DatasetRunConflictException(string message)
        : base(message)
    {
    }
}

/// <summary>
/// What an output folder of <see cref="DatasetAttributor"/> records about its run (<see cref="FileName"/>): the
/// settings that decide the results (model and its file hashes, method and arguments, step scores, aggregation,
/// dataset, output format), the shard, and the dataset rows the folder is responsible for. A resume compares the
/// settings and the shard; <c>merge</c> compares the settings of every shard and finds missing rows from the row list.
/// </summary>
/// <param name="Settings">The compared settings (any JSON object; written sorted by key).</param>
/// <param name="Shard">The shard, or null for a whole-dataset run.</param>
/// <param name="DatasetRows">Rows in the whole dataset.</param>
/// <param name="Rows">The (example number, line) of every row of the dataset, in order (a shard's rows are those
/// <see cref="DatasetShard.Contains"/> accepts), so that <c>merge</c> names missing rows by line.</param>
public sealed record DatasetRunRecord(JsonObject Settings, DatasetShard? Shard, int DatasetRows, IReadOnlyList<(int Number, int Line)> Rows)
{
    /// <summary>Name of the record in the output folder.</summary>
    public const string FileName = "run.json";

    /// <summary>Name of the lock file in the output folder.</summary>
    public const string LockFileName = ".lock";

    /// <summary>Name of the list of failed rows in the output folder (rewritten after every run).</summary>
    public const string FailuresFileName = "failures.json";

    private const string Kind = "inseq-bridge dataset run";

    /// <summary>The example numbers this folder is responsible for.</summary>
    public IEnumerable<(int Number, int Line)> OwnRows => Shard is null ? Rows : Rows.Where(r => (r.Number - 1) % Shard.Count == Shard.Index);

    /// <summary>The record as JSON.</summary>
    public string ToJson()
    {
        var root = new JsonObject
        {
            ["kind"] = Kind,
            ["version"] = 1,
            ["settings"] = Canonical(Settings),
            ["shard"] = Shard is null ? null : new JsonObject { ["index"] = Shard.Index, ["count"] = Shard.Count },
            ["dataset_rows"] = DatasetRows,
            ["rows"] = new JsonArray(Rows.Select(r => (JsonNode?)new JsonArray(r.Number, r.Line)).ToArray()),
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Reads the record of <paramref name="directory"/>, or null when it has none.</summary>
    /// <exception cref="InvalidInputException">The record exists but is not one.</exception>
    public static DatasetRunRecord? Load(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            JsonNode? root = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { MaxDepth = 64 });
            if (root?["kind"]?.GetValue<string>() != Kind || root["settings"] is not JsonObject settings)
            {
                throw new InvalidInputException($"{path} is not the run record of an attribute-dataset output folder.");
            }

            DatasetShard? shard = root["shard"] is JsonObject s ? new DatasetShard(s["index"]!.GetValue<int>(), s["count"]!.GetValue<int>()) : null;
            var rows = (root["rows"] as JsonArray ?? [])
                .Select(r => (r![0]!.GetValue<int>(), r[1]!.GetValue<int>()))
                .ToList();
            return new DatasetRunRecord((JsonObject)settings.DeepClone(), shard, root["dataset_rows"]?.GetValue<int>() ?? rows.Count, rows);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or NullReferenceException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            throw new InvalidInputException($"{path} is damaged ({e.Message.Split('\n')[0]}): remove the folder or run with --overwrite.");
        }
    }

    /// <summary>True when both settings are equal (key order ignored).</summary>
    public static bool SameSettings(JsonObject a, JsonObject b) => JsonNode.DeepEquals(Canonical(a), Canonical(b));

    /// <summary>The keys whose values differ between two settings, for messages.</summary>
    public static IReadOnlyList<string> Differences(JsonObject a, JsonObject b) =>
        a.Select(kv => kv.Key).Union(b.Select(kv => kv.Key)).Order(StringComparer.Ordinal)
            .Where(k => !JsonNode.DeepEquals(a[k], b[k]))
            .ToList();

    /// <summary>A short description of a settings value, for messages.</summary>
    public static string Describe(JsonNode? value)
    {
        string text = value?.ToJsonString() ?? "(none)";
        return text.Length > 60 ? text[..57] + "..." : text;
    }

    /// <summary>SHA-256 (hex) of every file directly in <paramref name="directory"/> (and its subfolders), by relative
    /// path: the identity of a model checkpoint.</summary>
    public static JsonObject HashFiles(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var hashes = new JsonObject();
        foreach (string file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
                     .Select(f => Path.GetRelativePath(directory, f).Replace('\\', '/'))
                     .Where(f => !f.Split('/').Any(part => part.StartsWith('.')))
                     .Order(StringComparer.Ordinal))
        {
            hashes[file] = HashFile(Path.Combine(directory, file));
        }

        return hashes;
    }

    /// <summary>SHA-256 (hex) of one file.</summary>
    public static string HashFile(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static JsonNode? Canonical(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => KeyValuePair.Create(kv.Key, Canonical(kv.Value)))),
        JsonArray a => new JsonArray(a.Select(Canonical).ToArray()),
        null => null,
        _ => node.DeepClone(),
    };
}

/// <summary>One row that failed, as saved in <see cref="DatasetRunRecord.FailuresFileName"/>.</summary>
/// <param name="Number">Example number.</param>
/// <param name="Line">Line of the dataset file.</param>
/// <param name="Error">Why.</param>
public sealed record DatasetFailureRecord(int Number, int Line, string Error)
{
    /// <summary>Reads the failures of <paramref name="directory"/> (none when the file is absent or damaged).</summary>
    public static IReadOnlyList<DatasetFailureRecord> Load(string directory)
    {
        string path = Path.Combine(directory, DatasetRunRecord.FailuresFileName);
        if (!File.Exists(path))
        {
            return [];
        }

        try
        {
            return (JsonNode.Parse(File.ReadAllText(path)) as JsonArray ?? [])
                .Select(n => new DatasetFailureRecord(n!["example"]!.GetValue<int>(), n["line"]!.GetValue<int>(), n["error"]!.GetValue<string>()))
                .ToList();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
        {
            return [];
        }
    }

    /// <summary>Writes <paramref name="failures"/> to <paramref name="directory"/> atomically.</summary>
    public static void Save(string directory, IEnumerable<DatasetFailureRecord> failures)
    {
        var array = new JsonArray(failures.Select(f => (JsonNode?)new JsonObject
        {
            ["example"] = f.Number,
            ["line"] = f.Line,
            ["error"] = f.Error,
        }).ToArray());
        DatasetAttributor.WriteAtomically(Path.Combine(directory, DatasetRunRecord.FailuresFileName), array.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"line {Line} (example {Number}): {Error}");
}
