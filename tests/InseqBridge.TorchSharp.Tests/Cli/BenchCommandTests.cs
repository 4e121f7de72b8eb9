using System.Text.Json.Nodes;

namespace InseqBridge.TorchSharp.Tests.Cli;

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
