using System.Globalization;
using System.Text.Json.Nodes;
using InseqBridge.Data;
using InseqBridge.Datasets;

namespace InseqBridge.Tests.Datasets;

/// <summary>
/// A dataset run with a stand-in model whose results depend only on the row, run in a child process that the kill
/// test ends with SIGKILL at random points. Each row takes a few milliseconds, so kills land inside attribution,
/// inside writes and between rows.
/// </summary>
public static class DatasetCrashTarget
{
    public const string Command = "dataset-crash-target";

    public static IReadOnlyList<DatasetRow> Rows(int count) => DatasetReader.Parse(
        string.Join('\n', Enumerable.Range(1, count).Select(i => $$"""{"text": "row {{i}}"}""")), DatasetFormat.JsonLines);

    /// <summary>The result of a row: scores derived from its number, and a large payload so writes take time.</summary>
    public static FeatureAttributionOutput Result(DatasetRow row)
    {
        int n = row.Number;
        var source = Enumerable.Range(0, 40).Select(i => new TokenWithId($"s{i}", i)).ToList();
        var target = Enumerable.Range(0, 30).Select(i => new TokenWithId($"t{i}", i)).ToList();
        float[] scores = Enumerable.Range(0, 40 * 29).Select(i => (float)(((n * 7919L) + (i * 104729L)) % 1000) / 1000f).ToArray();
        return new FeatureAttributionOutput
        {
            SequenceAttributions =
            [
                new FeatureAttributionSequenceOutput
                {
                    Source = source,
                    Target = target,
                    SourceAttributions = new NdArray(scores, 40, 29),
                    AttrPosStart = 1,
                    AttrPosEnd = 30,
                },
            ],
            Info = new JsonObject { ["input_texts"] = new JsonArray(row.Text) },
        };
    }

    public static int Run(string[] args)
    {
        string directory = args[0];
        int rows = int.Parse(args[1], CultureInfo.InvariantCulture);
        bool jsonl = args[2] == "jsonl";
        var options = new DatasetAttributionOptions(directory, JsonLines: jsonl)
        {
            Settings = new JsonObject { ["method"] = "stand-in" },
            BatchSize = 3,
        };
        var random = new Random();
        DatasetAttributionSummary summary = DatasetAttributor.RunBatched(Rows(rows), (batch, token) =>
        {
            Thread.Sleep(random.Next(1, 6));
            return batch.Select(Result).ToList();
        }, options);
        return summary.Complete ? 0 : 1;
    }
}
