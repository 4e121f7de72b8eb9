using System.Collections;
using System.Globalization;
using InseqBridge.Errors;

namespace InseqBridge.Datasets;

/// <summary>
/// One of <see cref="Count"/> disjoint parts of a dataset: row number <c>n</c> (1-based) belongs to shard
/// <c>(n - 1) mod Count</c>. Assignment depends only on the row number, so shards never overlap, together cover every
/// row, and do not depend on which shard runs first or how often one is rerun.
/// </summary>
/// <param name="Index">0-based shard index (0 .. <see cref="Count"/> - 1).</param>
/// <param name="Count">Number of shards.</param>
public sealed record DatasetShard(int Index, int Count)
{
    /// <summary>Slurm array variables: this task's id, and the array's task count or lowest/highest id.</summary>
    public const string SlurmTaskId = "SLURM_ARRAY_TASK_ID";

    /// <summary>Number of tasks in the Slurm array.</summary>
    public const string SlurmTaskCount = "SLURM_ARRAY_TASK_COUNT";

    /// <summary>Lowest task id of the Slurm array.</summary>
    public const string SlurmTaskMin = "SLURM_ARRAY_TASK_MIN";

    /// <summary>Highest task id of the Slurm array.</summary>
    public const string SlurmTaskMax = "SLURM_ARRAY_TASK_MAX";

    /// <summary>The completion index of a Kubernetes Indexed Job's pod (0-based).</summary>
    public const string KubernetesIndex = "JOB_COMPLETION_INDEX";

    /// <summary>True when <paramref name="row"/> belongs to this shard.</summary>
    public bool Contains(DatasetRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return (row.Number - 1) % Count == Index;
    }

    /// <summary>The folder name of this shard's results inside the run's output folder (<c>shard-K-of-N</c>).</summary>
    public string FolderName => string.Create(CultureInfo.InvariantCulture, $"shard-{Index}-of-{Count}");

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");

    /// <summary>Parses <c>K/N</c> (K counts from 0).</summary>
    /// <exception cref="InvalidInputException">Not K/N, or K outside 0 .. N - 1.</exception>
    public static DatasetShard Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Split('/');
        if (parts.Length != 2 || !TryInt(parts[0], out int index) || !TryInt(parts[1], out int count))
        {
            throw new InvalidInputException($"--shard '{text}' is not K/N (e.g. 0/4 for the first of four shards; K counts from 0).");
        }

        return Create(index, count, "--shard");
    }

    /// <summary>
    /// The shard of this process: <paramref name="explicitShard"/> (<c>--shard K/N</c>) when given, else the
    /// scheduler's variables: Slurm job arrays (<see cref="SlurmTaskId"/> with <see cref="SlurmTaskCount"/>, or
    /// <see cref="SlurmTaskMin"/>/<see cref="SlurmTaskMax"/>; the index is the task id minus the lowest id), or a
    /// Kubernetes Indexed Job (<see cref="KubernetesIndex"/> with the completions count as <paramref name="shards"/>).
    /// Returns null when nothing asks for sharding.
    /// </summary>
    /// <param name="explicitShard"><c>--shard K/N</c>, or null.</param>
    /// <param name="shards"><c>--shards N</c>, or null: the shard count when only an index is known (Kubernetes), and
    /// a check of the Slurm array size otherwise.</param>
    /// <param name="environment">The environment variables (default: the process's).</param>
    /// <exception cref="InvalidInputException">Contradicting or malformed values.</exception>
    public static DatasetShard? Resolve(string? explicitShard, int? shards, IDictionary? environment = null)
    {
        if (shards is < 1)
        {
            throw new InvalidInputException($"--shards must be at least 1 (got {shards}).");
        }

        if (explicitShard is not null)
        {
            DatasetShard parsed = Parse(explicitShard);
            if (shards is int n && n != parsed.Count)
            {
                throw new InvalidInputException($"--shard {explicitShard} and --shards {n} disagree on the number of shards: give one of them.");
            }

            return parsed;
        }

        environment ??= Environment.GetEnvironmentVariables();
        string? Get(string name) => environment[name] as string is { Length: > 0 } value ? value.Trim() : null;
        if (Get(SlurmTaskId) is string slurmId)
        {
            int id = EnvInt(SlurmTaskId, slurmId);
            int min = Get(SlurmTaskMin) is string minText ? EnvInt(SlurmTaskMin, minText) : 0;
            int? count = Get(SlurmTaskCount) is string countText ? EnvInt(SlurmTaskCount, countText)
                : Get(SlurmTaskMax) is string maxText ? EnvInt(SlurmTaskMax, maxText) - min + 1 : shards;
            if (count is null)
            {
                throw new InvalidInputException($"{SlurmTaskId} is set but neither {SlurmTaskCount} nor {SlurmTaskMax}: pass the number of array tasks as --shards N.");
            }

            if (shards is int n && n != count)
            {
                throw new InvalidInputException($"--shards {n} disagrees with the Slurm array's {count} tasks: drop --shards or submit --array with {n} tasks.");
            }

            return Create(id - min, count.Value, $"{SlurmTaskId}={slurmId} (lowest id {min})");
        }

        if (Get(KubernetesIndex) is string k8sIndex)
        {
            int index = EnvInt(KubernetesIndex, k8sIndex);
            if (shards is not int n)
            {
                throw new InvalidInputException($"{KubernetesIndex} is set but the number of shards is unknown: pass the Job's completions count as --shards N.");
            }

            return Create(index, n, $"{KubernetesIndex}={k8sIndex}");
        }

        return shards is int only && only > 1
            ? throw new InvalidInputException($"--shards {only} needs a shard index: --shard K/{only}, or run as a Slurm array task or Kubernetes Indexed Job.")
            : null;
    }

    private static DatasetShard Create(int index, int count, string source)
    {
        if (count < 1)
        {
            throw new InvalidInputException($"{source}: the number of shards must be at least 1 (got {count}).");
        }

        if (index < 0 || index >= count)
        {
            throw new InvalidInputException($"{source}: shard index {index} is outside 0..{count - 1} (shard indices count from 0).");
        }

        return new DatasetShard(index, count);
    }

    private static bool TryInt(string text, out int value) => int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out value);

    private static int EnvInt(string name, string value) =>
        TryInt(value, out int parsed) ? parsed : throw new InvalidInputException($"Environment variable {name}='{value}' is not an integer.");
}
