using System.Collections;
using System.Text.Json.Nodes;
using InseqBridge.Datasets;
using InseqBridge.Errors;
using InseqBridge.Serialization;

namespace InseqBridge.Tests.Datasets;

/// <summary>Shards (from --shard and from scheduler variables), batching, and merging shard folders.</summary>
public sealed class DatasetShardTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "inseq-bridge-shards-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private static Hashtable Env(params (string Key, string Value)[] pairs)
    {
        var table = new Hashtable();
        foreach (var (key, value) in pairs)
        {
            table[key] = value;
        }

        return table;
    }

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    public void Shards_are_disjoint_and_cover_every_row(int count)
    {
        var rows = DatasetCrashTarget.Rows(23);
        var parts = Enumerable.Range(0, count).Select(k => rows.Where(DatasetShard.Parse($"{k}/{count}").Contains).Select(r => r.Number).ToList()).ToList();
        Assert.Equal(Enumerable.Range(1, 23), parts.SelectMany(p => p).Order());
        Assert.True(parts.Max(p => p.Count) - parts.Min(p => p.Count) <= 1);
    }

    [Fact]
    public void Scheduler_variables_give_the_shard()
    {
        Assert.Equal(new DatasetShard(2, 4), DatasetShard.Resolve(null, null, Env(("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_COUNT", "4"))));
        Assert.Equal(new DatasetShard(1, 5), DatasetShard.Resolve(null, null, Env(("SLURM_ARRAY_TASK_ID", "11"), ("SLURM_ARRAY_TASK_MIN", "10"), ("SLURM_ARRAY_TASK_MAX", "14"))));
        Assert.Equal(new DatasetShard(0, 3), DatasetShard.Resolve(null, 3, Env(("JOB_COMPLETION_INDEX", "0"))));
        Assert.Equal(new DatasetShard(1, 3), DatasetShard.Resolve("1/3", null, Env(("JOB_COMPLETION_INDEX", "2")))); // --shard wins
        Assert.Null(DatasetShard.Resolve(null, null, Env()));
    }

    [Theory]
    [InlineData("3/3", null, "outside 0..2")]
    [InlineData("a/3", null, "not K/N")]
    [InlineData(null, 3, "needs a shard index")]
    [InlineData("1/3", 4, "disagree")]
    public void Bad_shard_requests_name_the_fix(string? shard, int? shards, string expected)
    {
        var error = Assert.Throws<InvalidInputException>(() => DatasetShard.Resolve(shard, shards, Env()));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Kubernetes_index_without_shards_is_refused()
    {
        var error = Assert.Throws<InvalidInputException>(() => DatasetShard.Resolve(null, null, Env(("JOB_COMPLETION_INDEX", "1"))));
        Assert.Contains("--shards N", error.Message, StringComparison.Ordinal);
    }

    private DatasetAttributionSummary RunShard(DatasetShard? shard, string method = "saliency", Func<int, bool>? fails = null, int batchSize = 1)
    {
        var rows = DatasetReader.Parse(
            string.Join('\n', Enumerable.Range(1, 17).Select(i => i == 9 ? "{oops" : $$"""{"text": "row {{i}}"}""")), DatasetFormat.JsonLines);
        var options = new DatasetAttributionOptions(Path.Combine(_dir, shard?.FolderName ?? "whole"), JsonLines: true)
        {
            Settings = new JsonObject { ["method"] = method },
            Shard = shard,
            BatchSize = batchSize,
            BucketKey = r => r.Number % 3,
        };
        return DatasetAttributor.RunBatched(rows, (batch, token) => batch.Select(r =>
            fails?.Invoke(r.Number) == true ? throw new InvalidOperationException($"row {r.Number} broke") : DatasetCrashTarget.Result(r)).ToList(), options);
    }

    [Fact]
    public void Merged_shards_equal_the_unsharded_run_and_bad_rows_are_reported_by_line()
    {
        RunShard(null);
        for (int k = 0; k < 3; k++)
        {
            RunShard(new DatasetShard(k, 3), batchSize: 4);
        }

        DatasetMergePlan whole = DatasetMerger.Plan([Path.Combine(_dir, "whole")]);
        DatasetMergePlan merged = DatasetMerger.Plan([Path.Combine(_dir, "shard-0-of-3"), Path.Combine(_dir, "shard-1-of-3"), Path.Combine(_dir, "shard-2-of-3")]);
        Assert.Equal(whole.Examples.Select(e => e.Number), merged.Examples.Select(e => e.Number));
        Assert.Equal(Enumerable.Range(1, 17).Where(i => i != 9), merged.Examples.Select(e => e.Number));
        var failed = Assert.Single(merged.Failed);
        Assert.Equal((9, 9), (failed.Number, failed.Line));
        Assert.Empty(merged.Missing);

        string output = Path.Combine(_dir, "merged.jsonl");
        DatasetMerger.WriteJsonLines(merged, output);
        string[] lines = File.ReadAllLines(output);
        Assert.Equal(16, lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            Assert.Equal(whole.Examples[i].ToJsonLine(), lines[i]);
            Assert.Equal(InseqJson.Parse(whole.Examples[i].ToJsonLine()).SequenceAttributions[0].SourceAttributions, InseqJson.Parse(lines[i]).SequenceAttributions[0].SourceAttributions);
        }
    }

    [Fact]
    public void A_missing_shard_is_reported_row_by_row_and_other_settings_are_refused()
    {
        RunShard(new DatasetShard(0, 3));
        RunShard(new DatasetShard(2, 3));
        DatasetMergePlan plan = DatasetMerger.Plan([_dir]); // the parent folder: its shard-K-of-N subfolders
        Assert.Equal([2, 5, 8, 11, 14, 17], plan.Missing.Select(m => m.Line));
        Assert.False(plan.Complete);

        RunShard(new DatasetShard(1, 3), method: "integrated_gradients");
        var error = Assert.Throws<InvalidInputException>(() => DatasetMerger.Plan([_dir]));
        Assert.Contains("Refusing to mix", error.Message, StringComparison.Ordinal);
        Assert.Contains("method", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failing_batch_is_retried_row_by_row_so_only_the_bad_row_fails()
    {
        var summary = RunShard(null, fails: n => n == 7, batchSize: 5);
        Assert.Equal([7, 9], summary.Failures.Select(f => f.Row.Number).Order());
        Assert.Equal(15, summary.Saved);
        Assert.Contains("row 7 broke", summary.Failures.Single(f => f.Row.Number == 7).Error, StringComparison.Ordinal);

        // The rerun retries only the failed rows; the failure list follows.
        var second = RunShard(null, batchSize: 5);
        Assert.Equal((1, 15), (second.Saved, second.Skipped));
        Assert.Equal([9], DatasetFailureRecord.Load(Path.Combine(_dir, "whole")).Select(f => f.Number));
    }
}
