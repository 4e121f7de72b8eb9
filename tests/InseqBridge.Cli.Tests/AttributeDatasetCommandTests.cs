using System.CommandLine;
using InseqBridge.Cli.Commands;
using InseqBridge.Data;
using InseqBridge.Datasets;
using InseqBridge.Serialization;
using InseqBridge.Native.Tests.Demo;
using InseqBridge.Native;
using InseqBridge.Native.Tests;

namespace InseqBridge.Cli.Tests;

/// <summary><c>attribute-dataset</c> end to end on the demo model: 20 rows with one bad, resume, interrupt.</summary>
public class AttributeDatasetCommandTests
{
    private static readonly string[] Words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

    private static string WriteDataset(TemporaryFolder folder, string name, Func<int, string> row, string header = "")
    {
        string path = folder.File(name);
        File.WriteAllText(path, header + string.Join('\n', Enumerable.Range(0, 20).Select(row)) + "\n");
        return path;
    }

    private static string Text(int i) => $"{Words[i % 10]} {Words[(i * 3) % 10]}";

    [Fact]
    public void Twenty_rows_with_one_bad_then_resume()
    {
        using var folder = new TemporaryFolder();
        string dataset = WriteDataset(folder, "data.jsonl", i => i == 12 ? "{\"text\": \"oops\"" : $$"""{"text": "{{Text(i)}}", "id": {{i}}}""");
        string output = folder.File("out");
        string[] args = ["attribute-dataset", "--model", DemoModelTests.ModelDir, "--dataset", dataset, "--output", output, "--method", "integrated_gradients", "--n-steps", "8", "--step-scores", "probability"];
        CliResult first = CliRunner.Run(args);
        Assert.Equal(1, first.ExitCode);
        Assert.Contains("line 13", first.Error, StringComparison.Ordinal);
        Assert.Contains("invalid JSON", first.Error, StringComparison.Ordinal);
        Assert.Equal(19, Directory.GetFiles(output, "example-*.json").Length);
        Assert.Contains("[20/20]", first.Output, StringComparison.Ordinal); // plain progress lines when captured
        Assert.Contains("ex/s", first.Output, StringComparison.Ordinal);
        Assert.Contains("ETA", first.Output, StringComparison.Ordinal);

        FeatureAttributionOutput saved = InseqJson.Load(Path.Combine(output, DatasetAttributor.ExampleFileName(6)));
        Assert.Equal(Text(5), saved.Info["input_texts"]![0]!.GetValue<string>());
        Assert.NotNull(saved.SequenceAttributions[0].StepScores["probability"]);
        Assert.Equal("integrated_gradients", saved.Info["attribution_method"]!.GetValue<string>());
        DateTime stamp = File.GetLastWriteTimeUtc(Path.Combine(output, DatasetAttributor.ExampleFileName(1)));

        File.Delete(Path.Combine(output, DatasetAttributor.ExampleFileName(20))); // as if interrupted before the last one
        CliResult second = CliRunner.Run(args);
        Assert.Equal(1, second.ExitCode); // the bad row is still bad
        Assert.Contains("saved 1, already saved (skipped) 18, failed 1", second.Output, StringComparison.Ordinal);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(Path.Combine(output, DatasetAttributor.ExampleFileName(1))));
        Assert.Equal(19, Directory.GetFiles(output, "example-*.json").Length);
        Assert.True(File.Exists(Path.Combine(output, DatasetRunRecord.FileName)), "the run record is kept next to the results");
    }

    [Theory]
    [InlineData("data.csv", "text,target\n", ",")]
    [InlineData("data.tsv", "text\ttarget\n", "\t")]
    public void Delimited_files_with_forced_outputs(string name, string header, string delimiter)
    {
        using var folder = new TemporaryFolder();
        string dataset = WriteDataset(folder, name, i => $"{Text(i)}{delimiter}{i % 10}{(i * 3) % 10}", header);
        string output = folder.File("out");
        CliResult result = CliRunner.Run("attribute-dataset", "--model", DemoModelTests.ModelDir, "--dataset", dataset, "--generated-column", "target", "--output", output, "--jsonl", "--aggregate");
        Assert.True(result.ExitCode == 0, result.ToString());
        string[] lines = File.ReadAllLines(Path.Combine(output, DatasetAttributor.JsonLinesFileName));
        Assert.Equal(20, lines.Length);
        FeatureAttributionOutput third = InseqJson.Parse(lines[2]);
        Assert.Equal("26", third.Info["generated_texts"]![0]!.GetValue<string>());
        Assert.Equal(2, third.SequenceAttributions[0].SourceAttributions!.Rank); // --aggregate

        CliResult shown = CliRunner.Run("show", Path.Combine(output, DatasetAttributor.JsonLinesFileName), "--html", folder.File("all.html"));
        Assert.True(shown.ExitCode == 0, shown.ToString());
        Assert.Equal(20, File.ReadAllText(folder.File("all.html")).Split("<section class=\"sequence\"").Length - 1);
    }

    [Fact]
    public void Plain_text_file_and_cancellation()
    {
        using var folder = new TemporaryFolder();
        string dataset = WriteDataset(folder, "data.txt", Text);
        string output = folder.File("out");
        using var cancel = new CancellationTokenSource();
        cancel.Cancel(); // Ctrl+C before the first example finishes
        Command command = AttributeDatasetCommand.Create(cancel.Token);
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int exit = command.Parse(["--model", DemoModelTests.ModelDir, "--dataset", dataset, "--output", output])
            .Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
        Assert.Equal(AttributeDatasetCommand.Interrupted, exit);
        Assert.Contains("Run the same command again to resume", stderr.ToString(), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(output, "example-*.json"));

        CliResult resumed = CliRunner.Run("attribute-dataset", "--model", DemoModelTests.ModelDir, "--dataset", dataset, "--output", output);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Equal(20, Directory.GetFiles(output, "example-*.json").Length);
    }

    [Fact]
    public void Missing_column_is_a_one_line_error()
    {
        using var folder = new TemporaryFolder();
        string dataset = WriteDataset(folder, "data.csv", Text, "sentence\n");
        CliResult result = CliRunner.Run("attribute-dataset", "--model", DemoModelTests.ModelDir, "--dataset", dataset);
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: ", result.Error, StringComparison.Ordinal);
        Assert.Contains("no column 'text'", result.Error, StringComparison.Ordinal);
        Assert.True(result.Error.TrimEnd().Split('\n').Length <= 2, result.Error);
    }
}
