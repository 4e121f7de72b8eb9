using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using InseqBridge.Aggregation;
using InseqBridge.Data;
using InseqBridge.Datasets;
using InseqBridge.Serialization;
using InseqBridge.Native.Tests.Demo;
using InseqBridge.Native;
using InseqBridge.Native.Tests;
using InseqBridge.Native.Tests.Attribution;
using InseqBridge.Native.Tests.Datasets;

namespace InseqBridge.Cli.Tests;

/// <summary>
/// Sharded <c>attribute-dataset</c> runs merged with <c>merge</c> equal the unsharded run: shards from <c>--shard</c>,
/// from the Kubernetes manifest's container command (one process per <c>JOB_COMPLETION_INDEX</c>), and from a real
/// one-node Slurm cluster running the sbatch example (with a task cancelled mid-run and requeued).
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class ClusterDatasetTests : IClassFixture<ClusterDatasetTests.Unsharded>
{
    private static readonly string[] Words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

    /// <summary>Flags shared by every run here (the settings must match for merging).</summary>
    internal static readonly string[] AttributeArgs = ["--method", "saliency", "--max-new-tokens", "4", "--step-scores", "probability"];

    private readonly Unsharded _whole;

    public ClusterDatasetTests(Unsharded whole) => _whole = whole;

    /// <summary>The dataset (40 rows, one bad) and its unsharded run, made once.</summary>
    public sealed class Unsharded : IDisposable
    {
        public Unsharded()
        {
            Folder = new TemporaryFolder();
            Dataset = Folder.File("dataset.jsonl"); // the name the Kubernetes manifest uses: results record it
            File.WriteAllText(Dataset, string.Join('\n', Enumerable.Range(0, 40).Select(i => i == 17
                ? "{\"text\": 17}"
                : $$"""{"text": "{{string.Join(' ', Enumerable.Range(1, 1 + (i % 4)).Select(k => Words[(i * k + k) % 10]))}}"}""")) + "\n");
            Output = Folder.File("whole");
            CliResult result = CliRunner.Run(["attribute-dataset", "--model", DemoModelTests.ModelDir, "--dataset", Dataset, "--output", Output, "--jsonl", .. AttributeArgs]);
            Assert.True(result.ExitCode == 1 && result.Error.Contains("line 18", StringComparison.Ordinal), result.ToString());
            Results = ReadJsonLines(Path.Combine(Output, DatasetAttributor.JsonLinesFileName));
        }

        public TemporaryFolder Folder { get; }

        public string Dataset { get; }

        public string Output { get; }

        /// <summary>Results by example number.</summary>
        public Dictionary<int, FeatureAttributionOutput> Results { get; }

        public void Dispose() => Folder.Dispose();
    }

    internal static Dictionary<int, FeatureAttributionOutput> ReadJsonLines(string path)
    {
        var results = new Dictionary<int, FeatureAttributionOutput>();
        foreach (string line in File.ReadAllLines(path))
        {
            FeatureAttributionOutput output = InseqJson.Parse(line);
            int number = int.Parse(output.Info["dataset_example"]!.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(results.TryAdd(number, output), $"example {number} appears twice in {path}");
        }

        return results;
    }

    /// <summary>The merged file equals the unsharded run row for row (timing aside), in row order, nothing twice.</summary>
    /// <param name="mergedJsonl">The merged file.</param>
    /// <param name="batched">Compare within fp32 noise (batched runs) instead of bit for bit.</param>
    /// <param name="modelCopied">The shards read a copy of the model (another path): model_name is not compared.</param>
    private void AssertMergedEqualsWhole(string mergedJsonl, bool batched = false, bool modelCopied = false)
    {
        string[] lines = File.ReadAllLines(mergedJsonl);
        var merged = lines.Select(l => InseqJson.Parse(l)).ToList();
        var numbers = merged.Select(o => int.Parse(o.Info["dataset_example"]!.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(_whole.Results.Keys.Order(), numbers); // row order, no duplicates, nothing missing
        for (int i = 0; i < merged.Count; i++)
        {
            if (modelCopied)
            {
                merged[i].Info["model_name"] = _whole.Results[numbers[i]].Info["model_name"]?.DeepClone(); // the folder's path
            }

            if (batched)
            {
                BatchedAttributionEquality.AssertClose(_whole.Results[numbers[i]], merged[i], $"example {numbers[i]}");
            }
            else
            {
                AssertSameResult(_whole.Results[numbers[i]], merged[i], $"example {numbers[i]}");
            }
        }
    }

    internal static void AssertSameResult(FeatureAttributionOutput expected, FeatureAttributionOutput actual, string what)
    {
        static string Info(FeatureAttributionOutput o)
        {
            var info = (JsonObject)o.Info.DeepClone();
            info.Remove("exec_time");
            return info.ToJsonString();
        }

        Assert.Equal(Info(expected), Info(actual));
        var e = expected.SequenceAttributions.Single();
        var a = actual.SequenceAttributions.Single();
        Assert.Equal(e.Target.Select(t => t.Token), a.Target.Select(t => t.Token));
        Assert.True(Equals(e.SourceAttributions, a.SourceAttributions), $"{what}: source attributions differ");
        Assert.True(Equals(e.TargetAttributions, a.TargetAttributions), $"{what}: target attributions differ");
        Assert.Equal(e.StepScores["probability"], a.StepScores["probability"]);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    public void Shards_from_the_shard_flag_merge_into_the_unsharded_run(int shards)
    {
        using var folder = new TemporaryFolder();
        string output = folder.File("sharded");
        for (int k = 0; k < shards; k++)
        {
            CliResult result = CliRunner.Run(["attribute-dataset", "--model", DemoModelTests.ModelDir, "--dataset", _whole.Dataset, "--output", output, "--jsonl", "--shard", $"{k}/{shards}", "--batch-size", "4", .. AttributeArgs]);
            Assert.True(result.ExitCode == (k == 17 % shards ? 1 : 0), result.ToString());
        }

        CliResult merged = CliRunner.Run("merge", output, "--output", folder.File("merged.jsonl"));
        Assert.Equal(1, merged.ExitCode); // the bad row
        Assert.Contains("line 18 (example 18): failed", merged.Error, StringComparison.Ordinal);
        Assert.Contains("0 missing and 1 failed of 40", merged.Error, StringComparison.Ordinal);
        AssertMergedEqualsWhole(folder.File("merged.jsonl"), batched: true); // shards ran 4 rows per call
    }

    [Fact]
    public void Batched_run_equals_the_one_at_a_time_run()
    {
        using var folder = new TemporaryFolder();
        string output = folder.File("batched");
        CliResult result = CliRunner.Run(["attribute-dataset", "--model", DemoModelTests.ModelDir, "--dataset", _whole.Dataset, "--output", output, "--jsonl", "--batch-size", "8", .. AttributeArgs]);
        Assert.True(result.ExitCode == 1, result.ToString());
        var batched = ReadJsonLines(Path.Combine(output, DatasetAttributor.JsonLinesFileName));
        Assert.Equal(_whole.Results.Keys.Order(), batched.Keys.Order());
        foreach (var (number, expected) in _whole.Results)
        {
            // Batches share passes only between rows that need no padding, so the numbers are the same.
            BatchedAttributionEquality.AssertClose(expected, batched[number], $"example {number}");
        }
    }

    [Fact]
    public void Merge_refuses_shards_of_other_settings()
    {
        using var folder = new TemporaryFolder();
        string output = folder.File("mixed");
        CliResult first = CliRunner.Run(["attribute-dataset", "--model", DemoModelTests.ModelDir, "--dataset", _whole.Dataset, "--output", output, "--jsonl", "--shard", "0/2", .. AttributeArgs]);
        Assert.Equal(0, first.ExitCode);
        CliResult second = CliRunner.Run("attribute-dataset", "--model", DemoModelTests.ModelDir, "--dataset", _whole.Dataset, "--output", output, "--jsonl", "--shard", "1/2", "--method", "integrated_gradients", "--n-steps", "2", "--max-new-tokens", "4");
        CliResult merged = CliRunner.Run("merge", output, "--output", folder.File("merged.jsonl"));
        Assert.Equal(1, merged.ExitCode);
        Assert.Contains("Refusing to mix", merged.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(folder.File("merged.jsonl")));

        // And the same folder refuses a resume with other settings.
        CliResult resumed = CliRunner.Run("attribute-dataset", "--model", DemoModelTests.ModelDir, "--dataset", _whole.Dataset, "--output", output, "--jsonl", "--shard", "0/2", "--method", "integrated_gradients");
        Assert.Equal(1, resumed.ExitCode);
        Assert.Contains("other settings", resumed.Error, StringComparison.Ordinal);
        Assert.Contains("--overwrite", resumed.Error, StringComparison.Ordinal);
        _ = second;
    }

    [Fact]
    public void Parquet_results_read_back_as_long_format_rows()
    {
        using var folder = new TemporaryFolder();
        string output = folder.File("parquet");
        CliResult result = CliRunner.Run(["attribute-dataset", "--model", DemoModelTests.ModelDir, "--dataset", _whole.Dataset, "--output", output, "--format", "parquet", "--shard", "0/4", .. AttributeArgs]);
        Assert.True(result.ExitCode == 0, result.ToString());
        string file = Path.Combine(output, "shard-0-of-4", DatasetAttributor.ExampleFileName(5, ".parquet"));
        var rows = InseqBridge.Cli.Datasets.AttributionParquet.Read(file);
        FeatureAttributionSequenceOutput expected = _whole.Results[5].Aggregate().SequenceAttributions.Single();
        var source = rows.Where(r => r.Kind == "source").ToList();
        Assert.Equal(expected.SourceAttributions!.Shape[0] * expected.SourceAttributions.Shape[1], source.Count);
        foreach (var row in source)
        {
            Assert.Equal(5, row.Example);
            Assert.Equal(expected.Source[row.SourcePosition!.Value].Token, row.SourceToken);
            Assert.Equal(expected.Target[row.TargetPosition].Token, row.TargetToken);
            Assert.Equal(expected.SourceAttributions[row.SourcePosition.Value, row.TargetPosition - expected.AttrPosStart], row.Score);
        }

        var probability = rows.Where(r => r.Kind == "step_score:probability").OrderBy(r => r.TargetPosition).Select(r => r.Score);
        Assert.Equal(expected.StepScores["probability"].ToArray(), probability);

        CliResult merged = CliRunner.Run("merge", Path.Combine(output, "shard-0-of-4"), "--output", folder.File("all.parquet"));
        Assert.True(merged.ExitCode == 1, merged.ToString()); // the other shards' rows are missing
        Assert.Contains("30 missing and 0 failed of 40", merged.Error, StringComparison.Ordinal);
        Assert.Equal(10, InseqBridge.Cli.Datasets.AttributionParquet.Read(folder.File("all.parquet")).Select(r => r.Example).Distinct().Count());
    }

    [Fact]
    public void Kubernetes_manifest_command_per_completion_index_merges_into_the_unsharded_run()
    {
        string manifest = File.ReadAllText(Path.Combine(Fixtures.RepositoryRoot, "examples", "kubernetes", "attribute-job.yaml"));
        string[] commands = ContainerCommands(manifest);
        Assert.Equal(2, commands.Length); // the Indexed Job's, then the merge Job's
        int completions = int.Parse(System.Text.RegularExpressions.Regex.Match(manifest, @"completions:\s*(\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"--shards {completions}", commands[0], StringComparison.Ordinal);

        using var folder = new TemporaryFolder();
        string data = folder.File("data");
        Directory.CreateDirectory(data);
        File.Copy(_whole.Dataset, Path.Combine(data, "dataset.jsonl"));
        CopyDirectory(DemoModelTests.ModelDir, Path.Combine(data, "model"));
        string Adapt(string command) => command.Replace("inseq-bridge ", CliCommand() + " ", StringComparison.Ordinal).Replace("/data/", data + "/", StringComparison.Ordinal)
            + " " + string.Join(' ', AttributeArgs);
        for (int index = 0; index < completions; index++)
        {
            var (exit, log) = Shell(Adapt(commands[0]), new() { ["JOB_COMPLETION_INDEX"] = index.ToString(System.Globalization.CultureInfo.InvariantCulture) }, TimeSpan.FromMinutes(5));
            Assert.True(exit == (index == 17 % completions ? 1 : 0), log);
        }

        var (mergeExit, mergeLog) = Shell(commands[1].Replace("inseq-bridge ", CliCommand() + " ", StringComparison.Ordinal).Replace("/data/", data + "/", StringComparison.Ordinal), [], TimeSpan.FromMinutes(2));
        Assert.True(mergeExit == 1 && mergeLog.Contains("line 18", StringComparison.Ordinal), mergeLog);
        AssertMergedEqualsWhole(Path.Combine(data, "results", "merged.jsonl"), batched: true, modelCopied: true); // the manifest batches (--batch-size 8)
    }

    [SlurmFact]
    public void Slurm_array_and_merge_job_equal_the_unsharded_run_and_a_cancelled_requeued_task_loses_nothing()
    {
        using var cluster = SlurmCluster.Start();
        using var folder = new TemporaryFolder();
        string examples = Path.Combine(Fixtures.RepositoryRoot, "examples", "slurm");
        var env = new Dictionary<string, string>
        {
            ["SLURM_CONF"] = cluster.ConfigFile,
            ["MODEL"] = DemoModelTests.ModelDir,
            ["DATASET"] = _whole.Dataset,
            ["OUTPUT"] = folder.File("results"),
            ["ATTRIBUTE_ARGS"] = string.Join(' ', AttributeArgs),
            ["INSEQ_BRIDGE"] = CliCommand(),
            ["SHARDS"] = "4",
        };

        // 1. The documented submission: a 4-task array and a merge job that depends on it.
        var (exit, log) = Shell($"cd {folder.Path} && {examples}/submit.sh", env, TimeSpan.FromMinutes(1));
        Assert.True(exit == 0, log);
        cluster.WaitForEmptyQueue(TimeSpan.FromMinutes(10));
        string merged = Path.Combine(folder.File("results"), "merged.jsonl");
        Assert.True(File.Exists(merged), "the merge job wrote nothing: " + cluster.Logs(folder.Path));
        AssertMergedEqualsWhole(merged);

        // 2. One task cancelled mid-run, then requeued: it finishes only what is left.
        env["OUTPUT"] = folder.File("results2");
        (exit, log) = Shell($"cd {folder.Path} && sbatch --parsable --array=0-3 {examples}/attribute.sbatch", env, TimeSpan.FromMinutes(1));
        Assert.True(exit == 0, log);
        string job = log.Trim().Split(';')[0];
        string shardFile = Path.Combine(folder.File("results2"), "shard-1-of-4", DatasetAttributor.JsonLinesFileName);
        var clock = Stopwatch.StartNew();
        while (!(File.Exists(shardFile) && File.ReadAllText(shardFile).Count(c => c == '\n') >= 1))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(5), "task 1 saved nothing: " + cluster.Logs(folder.Path));
            Thread.Sleep(50);
        }

        cluster.Run($"scancel {job}_1");
        int savedAtCancel = File.ReadAllText(shardFile).Count(c => c == '\n');
        Assert.True(savedAtCancel < 10, $"task 1 had finished ({savedAtCancel} rows) before it was cancelled");
        cluster.WaitUntil($"squeue -h -j {job}_1 -t R", string.IsNullOrWhiteSpace, TimeSpan.FromMinutes(1));
        cluster.Run($"scontrol requeue {job}_1");
        cluster.WaitForEmptyQueue(TimeSpan.FromMinutes(10));
        ReadJsonLines(shardFile); // throws on a duplicate
        (exit, log) = Shell($"{CliCommand()} merge {folder.File("results2")} --output {folder.File("merged2.jsonl")}", [], TimeSpan.FromMinutes(2));
        Assert.True(exit == 1 && log.Contains("0 missing and 1 failed", StringComparison.Ordinal), log);
        AssertMergedEqualsWhole(folder.File("merged2.jsonl"));
        Assert.Contains("already saved (skipped)", File.ReadAllText(Directory.GetFiles(folder.Path, $"inseq-attribute-{job}_1.log").Single()), StringComparison.Ordinal);
    }

    /// <summary>The <c>- &gt;-</c> folded command blocks of the manifest's containers, in order.</summary>
    internal static string[] ContainerCommands(string manifest)
    {
        var commands = new List<string>();
        string[] lines = manifest.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Trim() != "- >-")
            {
                continue;
            }

            int indent = lines[i].Length - lines[i].TrimStart().Length;
            var parts = new List<string>();
            while (i + 1 < lines.Length && lines[i + 1].Trim().Length > 0 && lines[i + 1].Length - lines[i + 1].TrimStart().Length > indent)
            {
                parts.Add(lines[++i].Trim());
            }

            commands.Add(string.Join(' ', parts));
        }

        return [.. commands];
    }

    /// <summary>The CLI as a command line (this build's inseq-bridge.dll through dotnet).</summary>
    internal static string CliCommand() =>
        $"{Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet"} {Path.Combine(AppContext.BaseDirectory, "inseq-bridge.dll")}";

    internal static (int Exit, string Log) Shell(string command, Dictionary<string, string> env, TimeSpan timeout)
    {
        var info = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(command);
        foreach (var (key, value) in env)
        {
            info.Environment[key] = value;
        }

        using Process process = Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"timed out: {command}");
        }

        return (process.ExitCode, stdout.GetAwaiter().GetResult() + stderr.GetAwaiter().GetResult());
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }
}

/// <summary>The comparison of batched and one-at-a-time results (exact info, scores within fp32 summation order).</summary>
internal static class BatchedAttributionEquality
{
    public static void AssertClose(FeatureAttributionOutput expected, FeatureAttributionOutput actual, string what) =>
        InseqBridge.Native.Tests.Datasets.BatchedAttributionTests.AssertSame(expected, actual, what);
}

/// <summary>A fact skipped, with the reason, unless Slurm (slurmctld, slurmd, sbatch) and munge are installed and the
/// tests run as root (the daemons of the one-node test cluster need it).</summary>
public sealed class SlurmFactAttribute : FactAttribute
{
    public SlurmFactAttribute()
    {
        if (SlurmCluster.Missing() is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>A one-node Slurm cluster on localhost for one test: its own munged socket, state folders, ports and
/// slurm.conf; slurmctld and slurmd in the foreground, stopped on dispose.</summary>
internal sealed class SlurmCluster : IDisposable
{
    private readonly List<Process> _daemons = [];
    private readonly string _root;

    private SlurmCluster(string root)
    {
        _root = root;
        ConfigFile = Path.Combine(root, "slurm.conf");
    }

    public string ConfigFile { get; }

    private static readonly string[] Programs = ["/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged", "/usr/bin/sbatch", "/usr/bin/squeue", "/usr/bin/scontrol", "/usr/bin/scancel"];

    public static string? Missing()
    {
        string? absent = Programs.FirstOrDefault(p => !File.Exists(p));
        if (absent is not null)
        {
            return $"Slurm is not installed ({absent} missing): apt-get install slurm-wlm munge (as .ci/run does) to run the cluster test.";
        }

        return Environment.UserName == "root" ? null : "the one-node Slurm test cluster needs root (slurmd runs jobs as their users).";
    }

    public static SlurmCluster Start()
    {
        string root = Path.Combine(Path.GetTempPath(), "inseq-slurm-" + Guid.NewGuid().ToString("N")[..8]);
        var cluster = new SlurmCluster(root);
        try
        {
            foreach (string dir in new[] { "state", "spool", "log", "munge" })
            {
                Directory.CreateDirectory(Path.Combine(root, dir));
            }

            string socket = Path.Combine(root, "munge", "munge.socket");
            cluster.Daemon("/usr/sbin/munged", "--foreground", "--force", $"--socket={socket}", $"--pid-file={root}/munge/munged.pid",
                $"--log-file={root}/log/munged.log", $"--seed-file={root}/munge/seed");
            WaitFor(() => File.Exists(socket), TimeSpan.FromSeconds(20), "munged did not start: " + cluster.Logs(root));
            string host = Environment.MachineName.Split('.')[0];
            File.WriteAllText(cluster.ConfigFile, $"""
                ClusterName=inseqtest
                SlurmctldHost={host}(127.0.0.1)
                SlurmUser=root
                SlurmdUser=root
                AuthType=auth/munge
                AuthInfo=socket={socket}
                CryptoType=crypto/munge
                StateSaveLocation={root}/state
                SlurmdSpoolDir={root}/spool
                SlurmctldPidFile={root}/slurmctld.pid
                SlurmdPidFile={root}/slurmd.pid
                SlurmctldLogFile={root}/log/slurmctld.log
                SlurmdLogFile={root}/log/slurmd.log
                SlurmctldPort={FreePort()}
                SlurmdPort={FreePort()}
                ProctrackType=proctrack/linuxproc
                TaskPlugin=task/none
                JobAcctGatherType=jobacct_gather/none
                AccountingStorageType=accounting_storage/none
                SwitchType=switch/none
                MpiDefault=none
                ReturnToService=2
                SchedulerType=sched/backfill
                SelectType=select/cons_tres
                SelectTypeParameters=CR_CPU
                NodeName={host} NodeAddr=127.0.0.1 CPUs={Environment.ProcessorCount} State=UNKNOWN
                PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4

                """);
            cluster.Daemon("/usr/sbin/slurmctld", "-D", "-i", "-f", cluster.ConfigFile);
            cluster.Daemon("/usr/sbin/slurmd", "-D", "-f", cluster.ConfigFile);
            cluster.WaitUntil("sinfo -h -o %t", s => s.Trim() is "idle" or "mix" or "alloc", TimeSpan.FromSeconds(60));
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    public string Run(string command)
    {
        var (exit, log) = ClusterDatasetTests.Shell(command, new() { ["SLURM_CONF"] = ConfigFile }, TimeSpan.FromMinutes(1));
        Assert.True(exit == 0, $"{command}: {log}");
        return log;
    }

    public void WaitUntil(string command, Func<string, bool> done, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        string last = string.Empty;
        while (clock.Elapsed < timeout)
        {
            var (exit, log) = ClusterDatasetTests.Shell(command, new() { ["SLURM_CONF"] = ConfigFile }, TimeSpan.FromSeconds(30));
            last = log;
            if (exit == 0 && done(log))
            {
                return;
            }

            Thread.Sleep(300);
        }

        Assert.Fail($"timed out waiting for '{command}' (last: {last.Trim()}); {Logs(_root)}");
    }

    public void WaitForEmptyQueue(TimeSpan timeout) => WaitUntil("squeue -h", string.IsNullOrWhiteSpace, timeout);

    /// <summary>The tails of the daemon and job logs, for failure messages.</summary>
    public string Logs(string jobsFolder) => string.Join("\n", Directory.GetFiles(Path.Combine(_root, "log")).Concat(Directory.GetFiles(jobsFolder, "*.log"))
        .Select(f => $"--- {Path.GetFileName(f)}:\n{string.Join('\n', File.ReadAllLines(f).TakeLast(8))}"));

    public void Dispose()
    {
        if (File.Exists(ConfigFile))
        {
            ClusterDatasetTests.Shell("scancel --user=root", new() { ["SLURM_CONF"] = ConfigFile }, TimeSpan.FromSeconds(20));
        }

        foreach (Process daemon in Enumerable.Reverse(_daemons))
        {
            if (!daemon.HasExited)
            {
                daemon.Kill();
                daemon.WaitForExit(10_000);
            }

            daemon.Dispose();
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
    }

    private void Daemon(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        Process process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _daemons.Add(process);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void WaitFor(Func<bool> condition, TimeSpan timeout, string message)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < timeout, message);
            Thread.Sleep(100);
        }
    }
}
