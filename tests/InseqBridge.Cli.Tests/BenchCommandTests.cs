using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using InseqBridge.Native;
using InseqBridge.Native.Tests;

namespace InseqBridge.Cli.Tests;

/// <summary>
/// <c>inseq-bridge bench</c> runs end to end and writes the figures checks read. No timing is asserted (timings belong
/// in the benchmark); the tests hold the structure and the internal consistency of what it reports.
/// </summary>
[Collection(SerialCollection.Name)]
public class BenchCommandTests
{
    [Fact]
    public void Quick_bench_writes_every_key_for_the_selected_cases()
    {
        using var folder = new TemporaryFolder();
        string json = Path.Combine(folder.Path, "bench.json");
        CliResult result = CliRunner.Run(
            "bench", "--quick", "--repeats", "1", "--no-growth", "--json", json,
            "--only", "gpt2-tiny:integrated_gradients", "bart-tiny:saliency");
        Assert.True(result.ExitCode == 0, result.ToString());

        JsonObject root = JsonNode.Parse(File.ReadAllText(json))!.AsObject();
        JsonArray cases = root["cases"]!.AsArray();
        Assert.Equal(
            ["gpt2-tiny/integrated_gradients", "bart-tiny/saliency"],
            cases.Select(c => $"{c!["model"]}/{c["method"]}").ToArray());
        foreach (JsonNode? c in cases)
        {
            double fast = c!["native_fast_s"]!.GetValue<double>(), reference = c["native_reference_s"]!.GetValue<double>();
            Assert.True(fast > 0 && reference > 0, c.ToJsonString());
            Assert.Equal(reference / fast, c["speedup_vs_reference"]!.GetValue<double>(), 9);
            Assert.Null(c["python_s"]);
            Assert.Null(c["speedup_vs_python"]);
            Assert.True(c["peak_rss_mb"]!.GetValue<double>() > 10, c.ToJsonString());
        }

        Assert.True(root["matmul_gflops"]!.GetValue<double>() > 0);
        Assert.True(root["ig_gflops"]!.GetValue<double>() > 0, "integrated gradients ran on the decoder-only model");
        Assert.Contains("Intel oneAPI MKL", result.Output);
        Assert.Contains("intra-op threads", result.Output);
    }

    [Fact]
    public void Growth_lines_cover_every_length()
    {
        CliResult result = CliRunner.Run("bench", "--quick", "--repeats", "1", "--only", "gpt2-tiny:saliency");
        Assert.True(result.ExitCode == 0, result.ToString());
        foreach (int length in new[] { 5, 10, 20, 40 })
        {
            Assert.Matches($@"(?m)^saliency\s+{length}\s+\d", result.Output);
        }
    }

    [Fact]
    public void Unknown_case_is_a_usage_error()
    {
        CliResult result = CliRunner.Run("bench", "--quick", "--only", "gpt3-huge");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--only matches no model", result.Error);
    }

    [Fact]
    public void Contention_reports_each_sides_slowdown_and_stops_its_busy_process()
    {
        using var folder = new TemporaryFolder();
        string json = Path.Combine(folder.Path, "bench.json");
        CliResult result = CliRunner.Run(
            "bench", "--quick", "--contention", "--repeats", "1", "--no-growth", "--json", json, "--threads", "2", "--only", "gpt2-tiny:saliency");
        Assert.True(result.ExitCode == 0, result.ToString());

        JsonObject root = JsonNode.Parse(File.ReadAllText(json))!.AsObject();
        Assert.True(root["contention"]!.GetValue<bool>());
        Assert.Equal(2, root["threads"]!.GetValue<int>());
        Assert.Equal("set explicitly", root["threads_source"]!.GetValue<string>());
        Assert.True(root["available_cpus"]!.GetValue<int>() >= 1);
        Assert.False(string.IsNullOrEmpty(root["omp_wait_policy"]!.GetValue<string>()));
        JsonNode c = root["cases"]!.AsArray().Single()!;
        double quiet = c["native_fast_s"]!.GetValue<double>(), contended = c["native_fast_contended_s"]!.GetValue<double>();
        Assert.True(contended > 0, c.ToJsonString());
        Assert.Equal(contended / quiet, c["native_slowdown"]!.GetValue<double>(), 9);
        Assert.Null(c["python_contended_s"]);
        Assert.Null(c["python_slowdown"]);
        Assert.Contains("under contention", result.Output);
        Assert.Matches(@"(?m)^gpt2-tiny\s+saliency\s+[\d.]+\s+[\d.]+\s+[\d.]+x", result.Output);

        // Every busy process the bench started is stopped (killed and reaped) before it returns.
        var started = Regex.Matches(result.Output, @"competing busy process started: pid (\d+)").Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        var stopped = Regex.Matches(result.Output, @"competing busy process stopped: pid (\d+)").Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        Assert.NotEmpty(started);
        Assert.Equal(started, stopped);
        foreach (int pid in started)
        {
            Assert.False(IsBusyLoop(pid), $"the competing process {pid} is still running");
        }
    }

    /// <summary>Whether <paramref name="pid"/> is a live process running the bench's busy loop (a reused pid running something else does not count).</summary>
    private static bool IsBusyLoop(int pid)
    {
        try
        {
            string state = File.ReadAllText($"/proc/{pid}/stat");
            string commandLine = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
            return !state.Contains(") Z", StringComparison.Ordinal) && commandLine.Contains("do :; done", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    [InseqPythonFact]
    public void With_python_the_bench_times_python_inseq_on_the_same_checkpoints()
    {
        using var folder = new TemporaryFolder();
        string json = Path.Combine(folder.Path, "bench.json");
        string python = Environment.GetEnvironmentVariable("INSEQBRIDGE_TEST_PYTHON")!;
        CliResult result = CliRunner.Run(
            "bench", "--quick", "--repeats", "1", "--no-growth", "--json", json, "--python", python, "--only", "gpt2-tiny:saliency");
        Assert.True(result.ExitCode == 0, result.ToString());
        JsonNode c = JsonNode.Parse(File.ReadAllText(json))!["cases"]![0]!;
        double pythonTime = c["python_s"]!.GetValue<double>();
        Assert.True(pythonTime > 0);
        Assert.Equal(pythonTime / c["native_fast_s"]!.GetValue<double>(), c["speedup_vs_python"]!.GetValue<double>(), 9);
        Assert.Contains("python (gpt2-tiny): torch", result.Output);
    }
}
