using System.Diagnostics;
using InseqBridge.Cli;
using InseqBridge.Native.Tests.Demo;
using InseqBridge.Native;
using InseqBridge.Native.Tests;

namespace InseqBridge.Cli.Tests;

/// <summary>Ctrl+C (the run's cancellation token) stops every command within a step with exit code 130 and no
/// half-written file; long work shows a progress line within a second.</summary>
public sealed class CancellationTests
{
    [Theory]
    [InlineData("attribute")]
    [InlineData("generate")]
    [InlineData("show")]
    [InlineData("parity")]
    public void A_cancelled_run_exits_130_and_writes_nothing(string command)
    {
        using var folder = new TemporaryFolder();
        string[] args = command switch
        {
            "attribute" => ["attribute", "--model", DemoModelTests.ModelDir, "--input", "one two", "--save", folder.File("out.json")],
            "generate" => ["generate", "--model", DemoModelTests.ModelDir, "--input", "one two", "--max-new-tokens", "3"],
            "show" => ["show", Path.Combine(Fixtures.ParityDir, "attributions", "bart__saliency__forced.json"), "--html", folder.File("out.html")],
            _ => ["parity", "--model", Fixtures.ModelDir("gpt2"), "--methods", "saliency", "--cases", Path.Combine(Fixtures.ParityDir, "manifest.json"),
                "--reference", Path.Combine(Fixtures.ParityDir, "attributions")],
        };
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = CommandLine.Run(args, output, error, cancel.Token, null);
        Assert.True(exit == ExitCodes.Interrupted, $"exit {exit}\n{output}\n{error}");
        Assert.Contains("cancelled", error.ToString(), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(folder.Path));
    }

    [Fact]
    public async Task A_long_attribution_shows_progress_and_stops_soon_after_ctrl_c()
    {
        using var folder = new TemporaryFolder();
        using var cancel = new CancellationTokenSource();
        var progressText = new StringWriter();
        TextWriter progress = TextWriter.Synchronized(progressText);
        string Progress()
        {
            lock (progress)
            {
                return progressText.ToString();
            }
        }

        using var output = new StringWriter();
        using var error = new StringWriter();

        // Reference mode with 100,000 integration steps: minutes of work if nothing stops it.
        Task<int> run = Task.Run(() => CommandLine.Run(
            ["attribute", "--model", DemoModelTests.ModelDir, "--method", "integrated_gradients", "--n-steps", "100000", "--mode", "reference",
                "--input", "seven two nine four", "--generated", "7294", "--save", folder.File("out.json")],
            output, error, cancel.Token, progress));
        var clock = Stopwatch.StartNew();
        while (!Progress().Contains("Ctrl+C", StringComparison.Ordinal) && clock.Elapsed < TimeSpan.FromSeconds(60) && !run.IsCompleted)
        {
            await Task.Delay(50);
        }

        Assert.Contains("attributing", Progress(), StringComparison.Ordinal);
        cancel.Cancel();
        var stopping = Stopwatch.StartNew();
        Assert.True(await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(60))) == run, "did not stop within 60 s of Ctrl+C");
        Assert.Equal(ExitCodes.Interrupted, await run);
        Assert.False(File.Exists(folder.File("out.json")));
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(60), $"stopped after {stopping.Elapsed}");
    }
}
