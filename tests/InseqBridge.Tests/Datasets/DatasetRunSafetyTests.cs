using System.Diagnostics;
using System.Text.Json.Nodes;
using InseqBridge.Data;
using InseqBridge.Datasets;
using InseqBridge.Serialization;

namespace InseqBridge.Tests.Datasets;

/// <summary>Dataset runs that cannot lose or mix: recorded settings, the folder lock, kill -9 at random points.</summary>
public sealed class DatasetRunSafetyTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "inseq-bridge-safety-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private static DatasetAttributionOptions Options(string dir, string method, bool jsonl = true) =>
        new(dir, JsonLines: jsonl) { Settings = new JsonObject { ["method"] = method, ["n_steps"] = 8 } };

    [Fact]
    public void Resume_with_other_settings_is_refused_and_overwrite_starts_over()
    {
        var rows = DatasetCrashTarget.Rows(10);
        using var cancel = new CancellationTokenSource();
        DatasetAttributor.Run(rows, (r, t) =>
        {
            if (r.Number == 5)
            {
                cancel.Cancel(); // interrupted after 4 examples
                t.ThrowIfCancellationRequested();
            }

            return DatasetCrashTarget.Result(r);
        }, Options(_dir, "integrated_gradients"), cancellationToken: cancel.Token);

        var error = Assert.Throws<DatasetRunConflictException>(() =>
            DatasetAttributor.Run(rows, (r, t) => DatasetCrashTarget.Result(r), Options(_dir, "saliency")));
        Assert.Contains("method was \"integrated_gradients\", now \"saliency\"", error.Message, StringComparison.Ordinal);
        Assert.Contains("--overwrite", error.Message, StringComparison.Ordinal);
        Assert.Equal(4, File.ReadAllLines(Path.Combine(_dir, DatasetAttributor.JsonLinesFileName)).Length); // nothing changed

        var summary = DatasetAttributor.Run(rows, (r, t) => DatasetCrashTarget.Result(r), Options(_dir, "saliency") with { Overwrite = true });
        Assert.Equal((10, 0), (summary.Saved, summary.Skipped));
        Assert.Equal(10, File.ReadAllLines(Path.Combine(_dir, DatasetAttributor.JsonLinesFileName)).Length);
        Assert.Equal("\"saliency\"", DatasetRunRecord.Load(_dir)!.Settings["method"]!.ToJsonString());
    }

    [Fact]
    public void Resume_in_another_output_format_is_refused()
    {
        var rows = DatasetCrashTarget.Rows(3);
        DatasetAttributor.Run(rows, (r, t) => DatasetCrashTarget.Result(r), Options(_dir, "saliency", jsonl: false));
        var error = Assert.Throws<DatasetRunConflictException>(() =>
            DatasetAttributor.Run(rows, (r, t) => DatasetCrashTarget.Result(r), Options(_dir, "saliency", jsonl: true)));
        Assert.Contains("output_format was \"json\", now \"jsonl\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_second_concurrent_run_on_one_folder_is_refused_at_once()
    {
        var rows = DatasetCrashTarget.Rows(4);
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var first = Task.Run(() => DatasetAttributor.Run(rows, (r, t) =>
        {
            inside.Set();
            release.Wait(TimeSpan.FromSeconds(30));
            return DatasetCrashTarget.Result(r);
        }, Options(_dir, "saliency")));
        Assert.True(inside.Wait(TimeSpan.FromSeconds(30)));
        var clock = Stopwatch.StartNew();
        var error = Assert.Throws<DatasetRunConflictException>(() => DatasetAttributor.Run(rows, (r, t) => DatasetCrashTarget.Result(r), Options(_dir, "saliency")));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"refused after {clock.Elapsed}");
        Assert.Contains("Another attribute-dataset run", error.Message, StringComparison.Ordinal);
        release.Set();
        Assert.True((await first).Complete);
        Assert.Equal(4, File.ReadAllLines(Path.Combine(_dir, DatasetAttributor.JsonLinesFileName)).Length); // each once

        // The lock goes with its holder: a later run proceeds.
        Assert.Equal(4, DatasetAttributor.Run(rows, (r, t) => DatasetCrashTarget.Result(r), Options(_dir, "saliency")).Skipped);
    }

    [Theory]
    [InlineData("jsonl", 50)]
    [InlineData("files", 8)]
    public void Kill_minus_9_at_random_points_never_duplicates_loses_or_tears_a_result(string mode, int kills)
    {
        const int rowCount = 150;
        string dll = typeof(DatasetCrashTarget).Assembly.Location;
        var random = new Random(1234);
        int killed = 0, completions = 0, started = 0;
        double fullRunMs = 800; // adapted to the measured length of an uninterrupted run
        while (killed < kills)
        {
            Assert.True(++started < kills * 4, $"only {killed} kills in {started} starts");
            using var process = Start(dll, mode, rowCount);
            var clock = Stopwatch.StartNew();
            int delay = random.Next(0, (int)fullRunMs);
            if (process.WaitForExit(delay))
            {
                Assert.True(process.ExitCode == 0, $"the run failed: {process.StandardError.ReadToEnd()}");
                fullRunMs = Math.Max(fullRunMs, clock.Elapsed.TotalMilliseconds);
                AssertComplete(mode, rowCount);
                completions++;
                Directory.Delete(_dir, recursive: true); // start over for more kills
                continue;
            }

            process.Kill(); // SIGKILL
            process.WaitForExit();
            killed++;
            AssertConsistent(mode); // whatever is there is whole and unique
        }

        using var last = Start(dll, mode, rowCount);
        Assert.True(last.WaitForExit(TimeSpan.FromMinutes(2)), "the resumed run did not finish");
        Assert.True(last.ExitCode == 0, last.StandardError.ReadToEnd());
        AssertComplete(mode, rowCount);
        Assert.True(killed >= kills, $"{killed} kills, {completions} runs finished");
    }

    private Process Start(string dll, string mode, int rows)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string arg in new[] { "exec", dll, DatasetCrashTarget.Command, _dir, rows.ToString(System.Globalization.CultureInfo.InvariantCulture), mode })
        {
            info.ArgumentList.Add(arg);
        }

        return Process.Start(info)!;
    }

    /// <summary>Every complete result parses and equals its row's result; no example appears twice.</summary>
    private List<int> AssertConsistent(string mode)
    {
        var numbers = new List<int>();
        if (!Directory.Exists(_dir))
        {
            return numbers;
        }

        if (mode == "jsonl")
        {
            string path = Path.Combine(_dir, DatasetAttributor.JsonLinesFileName);
            if (!File.Exists(path))
            {
                return numbers;
            }

            string content = File.ReadAllText(path);
            string[] lines = content.Split('\n');
            for (int i = 0; i < lines.Length - 1; i++) // the last piece has no line end: empty, or torn (dropped on resume)
            {
                numbers.Add(AssertResult(InseqJson.Parse(lines[i])));
            }
        }
        else
        {
            foreach (string file in Directory.GetFiles(_dir, "example-*.json"))
            {
                numbers.Add(AssertResult(InseqJson.Load(file)));
            }
        }

        Assert.Equal(numbers.Count, numbers.Distinct().Count());
        return numbers;
    }

    private void AssertComplete(string mode, int rows)
    {
        List<int> numbers = AssertConsistent(mode);
        Assert.Equal(Enumerable.Range(1, rows), numbers.Order());
        if (mode == "jsonl")
        {
            Assert.EndsWith("\n", File.ReadAllText(Path.Combine(_dir, DatasetAttributor.JsonLinesFileName)), StringComparison.Ordinal);
        }

        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }

    private static int AssertResult(FeatureAttributionOutput output)
    {
        int number = int.Parse(output.Info["dataset_example"]!.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture);
        var row = new DatasetRow(number, number, $"row {number}", null, null);
        FeatureAttributionOutput expected = DatasetCrashTarget.Result(row);
        Assert.Equal(expected.SequenceAttributions[0].SourceAttributions!.ToArray(), output.SequenceAttributions[0].SourceAttributions!.ToArray());
        return number;
    }
}
