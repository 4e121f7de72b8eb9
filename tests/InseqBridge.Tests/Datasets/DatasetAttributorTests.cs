using InseqBridge.Data;
using InseqBridge.Datasets;
using InseqBridge.Serialization;
using InseqBridge.Tests.Visualization;

namespace InseqBridge.Tests.Datasets;

/// <summary>The dataset loop with a stand-in model: saving, bad rows, resume, interruption, JSONL.</summary>
public sealed class DatasetAttributorTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "inseq-bridge-dataset-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private static IReadOnlyList<DatasetRow> Rows() => DatasetReader.Parse(
        string.Join('\n', Enumerable.Range(1, 6).Select(i => i == 4 ? "{broken" : $$"""{"text": "example {{i}}"}""")),
        DatasetFormat.JsonLines);

    private static FeatureAttributionOutput Fake(DatasetRow row, CancellationToken token, List<int> calls)
    {
        token.ThrowIfCancellationRequested();
        calls.Add(row.Number);
        FeatureAttributionOutput output = RenderingFixtures.HandMade();
        output.Info["input_texts"] = new System.Text.Json.Nodes.JsonArray(row.Text);
        return output;
    }

    [Fact]
    public void Saves_one_file_per_example_and_reports_the_bad_row_by_line()
    {
        var calls = new List<int>();
        var progress = new List<DatasetProgress>();
        var summary = DatasetAttributor.Run(Rows(), (r, t) => Fake(r, t, calls), new DatasetAttributionOptions(_dir, DatasetName: "d.jsonl"), progress.Add);
        Assert.Equal([1, 2, 3, 5, 6], calls);
        Assert.Equal(5, summary.Saved);
        DatasetFailure failure = Assert.Single(summary.Failures);
        Assert.Equal(4, failure.Row.Line);
        Assert.Contains("invalid JSON", failure.Error, StringComparison.Ordinal);
        Assert.False(summary.Complete);
        Assert.Equal(6, progress.Count);
        Assert.Equal(DatasetRowOutcome.Failed, progress[3].Outcome);

        string[] files = Directory.GetFiles(_dir, "example-*").Select(Path.GetFileName).Order().ToArray()!;
        Assert.Equal(["example-000001.json", "example-000002.json", "example-000003.json", "example-000005.json", "example-000006.json"], files);
        FeatureAttributionOutput saved = InseqJson.Load(Path.Combine(_dir, "example-000005.json"));
        Assert.Equal("example 5", saved.Info["input_texts"]![0]!.GetValue<string>());
        Assert.Equal("5", saved.Info["dataset_example"]!.ToJsonString());
        Assert.Equal("d.jsonl", saved.Info["dataset"]!.GetValue<string>());
    }

    [Fact]
    public void Resume_skips_saved_examples_and_overwrite_redoes_them()
    {
        var calls = new List<int>();
        DatasetAttributor.Run(Rows(), (r, t) => Fake(r, t, calls), new DatasetAttributionOptions(_dir));
        calls.Clear();
        var second = DatasetAttributor.Run(Rows(), (r, t) => Fake(r, t, calls), new DatasetAttributionOptions(_dir));
        Assert.Empty(calls);
        Assert.Equal((0, 5), (second.Saved, second.Skipped));
        Assert.Single(second.Failures); // the bad row is still bad

        var third = DatasetAttributor.Run(Rows(), (r, t) => Fake(r, t, calls), new DatasetAttributionOptions(_dir, Overwrite: true));
        Assert.Equal([1, 2, 3, 5, 6], calls);
        Assert.Equal(5, third.Saved);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Interrupting_leaves_only_complete_results_and_resuming_finishes(bool jsonLines)
    {
        using var cancel = new CancellationTokenSource();
        var calls = new List<int>();
        var options = new DatasetAttributionOptions(_dir, JsonLines: jsonLines);
        var first = DatasetAttributor.Run(Rows(), (r, t) =>
        {
            if (r.Number == 3)
            {
                cancel.Cancel(); // Ctrl+C while example 3 is being attributed
            }

            return Fake(r, t, calls);
        }, options, cancellationToken: cancel.Token);
        Assert.True(first.Cancelled);
        Assert.Equal(2, first.Saved);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
        AssertSaved(jsonLines, [1, 2]);

        calls.Clear();
        var second = DatasetAttributor.Run(Rows(), (r, t) => Fake(r, t, calls), options);
        Assert.Equal([3, 5, 6], calls);
        Assert.Equal((3, 2, false), (second.Saved, second.Skipped, second.Cancelled));
        AssertSaved(jsonLines, [1, 2, 3, 5, 6]);
    }

    [Fact]
    public void A_torn_last_json_line_is_dropped_and_redone()
    {
        var calls = new List<int>();
        var options = new DatasetAttributionOptions(_dir, JsonLines: true);
        DatasetAttributor.Run(Rows(), (r, t) => Fake(r, t, calls), options);
        string path = Path.Combine(_dir, DatasetAttributor.JsonLinesFileName);
        string[] lines = File.ReadAllLines(path);
        File.WriteAllText(path, lines[0] + "\n" + lines[1][..(lines[1].Length / 2)]); // killed mid-write
        calls.Clear();
        DatasetAttributor.Run(Rows(), (r, t) => Fake(r, t, calls), options);
        Assert.Equal([2, 3, 5, 6], calls);
        AssertSaved(jsonLines: true, [1, 2, 3, 5, 6]);
    }

    [Fact]
    public void Atomic_write_replaces_whole_files()
    {
        Directory.CreateDirectory(_dir);
        string path = Path.Combine(_dir, "x.json");
        DatasetAttributor.WriteAtomically(path, "first");
        DatasetAttributor.WriteAtomically(path, "second");
        Assert.Equal("second", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(_dir));
    }

    private void AssertSaved(bool jsonLines, int[] numbers)
    {
        if (jsonLines)
        {
            string[] lines = File.ReadAllLines(Path.Combine(_dir, DatasetAttributor.JsonLinesFileName));
            Assert.Equal(numbers.Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture)), lines.Select(l => InseqJson.Parse(l).Info["dataset_example"]!.ToJsonString()));
        }
        else
        {
            Assert.Equal(numbers.Select(DatasetAttributor.ExampleFileName), Directory.GetFiles(_dir, "example-*").Select(Path.GetFileName).Order());
            foreach (string file in Directory.GetFiles(_dir, "example-*"))
            {
                Assert.NotEmpty(InseqJson.Load(file).SequenceAttributions); // complete, parseable
            }
        }
    }
}
