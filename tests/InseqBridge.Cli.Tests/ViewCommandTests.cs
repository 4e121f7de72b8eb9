using System.Text.Json.Nodes;
using InseqBridge.Aggregation;
using InseqBridge.Cli.Rendering;
using InseqBridge.Data;
using InseqBridge.Native.Tests.Demo;
using InseqBridge.Visualization;
using Spectre.Console;
using InseqBridge.Native;
using InseqBridge.Native.Tests;

namespace InseqBridge.Cli.Tests;

/// <summary><c>show</c> and <c>attribute</c> views and exports: HTML, CSV, scores JSON, console heatmaps.</summary>
public class ViewCommandTests
{
    private static string PythonFile(string name) => Path.Combine(Fixtures.ParityDir, "attributions", name);

    [Fact]
    public void Show_renders_a_python_inseq_file_to_every_format()
    {
        using var folder = new TemporaryFolder();
        string source = PythonFile("gpt2__saliency__generated.json");
        CliResult result = CliRunner.Run("show", source, "--html", folder.File("a.html"), "--csv", folder.File("a.csv"), "--scores-json", folder.File("a.json"));
        Assert.True(result.ExitCode == 0, result.ToString());
        FeatureAttributionOutput python = FeatureAttributionOutput.Load(source);
        Assert.Equal(python.SequenceAttributions.Count, File.ReadAllText(folder.File("a.html")).Split("<section class=\"sequence\"").Length - 1);
        Assert.Equal(CsvExporter.Header, File.ReadLines(folder.File("a.csv")).First());
        var scores = JsonNode.Parse(File.ReadAllText(folder.File("a.json")).Replace("NaN", "null", StringComparison.Ordinal))!.AsArray();
        Assert.Equal(python.SequenceAttributions.Count, scores.Count);
        Assert.Equal(["source_attributions", "target_attributions", "step_scores"], scores[0]!.AsObject().Select(kv => kv.Key));

        CliResult again = CliRunner.Run("show", source, "--csv", folder.File("a.csv"));
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("--overwrite", again.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Attribute_writes_html_and_prints_the_heatmap_with_show()
    {
        using var folder = new TemporaryFolder();
        CliResult result = CliRunner.Run("attribute", "--model", DemoModelTests.ModelDir, "--method", "integrated_gradients", "--input", "seven two nine", "--html", folder.File("demo.html"), "--show");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(File.Exists(folder.File("demo.html")));
        Assert.Contains("Source x target", result.Output, StringComparison.Ordinal); // plain text: output is captured
        Assert.Contains("\u2423two", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(40)]
    [InlineData(60)]
    [InlineData(100)]
    public void Spectre_heatmap_fits_the_console_width(int width)
    {
        FeatureAttributionOutput python = FeatureAttributionOutput.Load(PythonFile("bart__integrated_gradients__generated.json"));
        using var writer = new StringWriter();
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = width;
        SpectreHeatmapRenderer.Render(console, HeatmapBuilder.Build(python));
        string[] lines = writer.ToString().Split('\n');
        Assert.All(lines, line => Assert.True(line.TrimEnd('\r').Length <= width, $"{line.Length} > {width}: {line}"));
        int columns = python.SequenceAttributions[0].Aggregate().StepCount;
        if (width == 40)
        {
            Assert.True(columns > 3);
            Assert.Contains("(continued)", writer.ToString(), StringComparison.Ordinal); // split into column blocks
        }
    }

    [Fact]
    public void Every_command_has_help_and_described_options()
    {
        var root = InseqBridge.Cli.CommandLine.CreateRoot();
        Assert.Contains(root.Subcommands, c => c.Name == "attribute-dataset");
        foreach (var command in root.Subcommands)
        {
            Assert.False(string.IsNullOrWhiteSpace(command.Description), command.Name);
            Assert.All(command.Options.Where(o => o.Name != "--help" && o.Name != "-h"), o => Assert.False(string.IsNullOrWhiteSpace(o.Description), $"{command.Name} {o.Name}"));
            CliResult help = CliRunner.Run(command.Name, "--help");
            Assert.True(help.ExitCode == 0, help.ToString());
            Assert.Contains("Usage:", help.Output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Plain_heatmap_fits_the_width()
    {
        FeatureAttributionOutput python = FeatureAttributionOutput.Load(PythonFile("bart__integrated_gradients__generated.json"));
        string text = PlainTextHeatmap.Render(python, maxWidth: 50);
        Assert.All(text.Split('\n'), line => Assert.True(line.Length <= 50, line));
    }
}
