using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Datasets;
using InseqBridge.Native.Attribution;
using TorchSharp;

namespace InseqBridge.Cli.Commands;

/// <summary><c>bench --dataset</c>: examples per second of <c>attribute-dataset</c> on the tiny GPT-2 and BART models
/// (200 rows of 4..16 words, 10 generated tokens, saliency and integrated gradients with 50 steps), one row per
/// call and <c>--batch-size</c> rows per call, against Python Inseq's batched <c>model.attribute</c> on the same rows
/// with <c>--python</c>.</summary>
public static partial class BenchCommand
{
    private static readonly string[] DatasetMethods = ["saliency", "integrated_gradients"];
    private const int DatasetNewTokens = 10;

    /// <summary>The benchmark rows: <paramref name="count"/> texts of 4 to 16 words from the benchmark paragraph.</summary>
    internal static List<string> DatasetRows(int count)
    {
        string[] words = Text.Replace(".", string.Empty, StringComparison.Ordinal).Replace(",", string.Empty, StringComparison.Ordinal).Split(' ');
        return Enumerable.Range(0, count)
            .Select(i => string.Join(' ', Enumerable.Range(0, 4 + (i * 7 % 13)).Select(k => words[(i * 5 + k) % words.Length])))
            .ToList();
    }

    private static int RunDataset(string? python, int rowCount, int batchSize, string? jsonPath, string[] only, TextWriter output)
    {
        if (rowCount < 1 || batchSize < 1)
        {
            throw new CliUsageException("--rows and --batch-size must be at least 1.");
        }

        string fixtures = FindFixtureModels();
        List<string> texts = DatasetRows(rowCount);
        var rows = texts.Select((t, i) => new DatasetRow(i + 1, i + 1, t, null, null)).ToList();
        int threads = torch.get_num_threads();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"attribute-dataset throughput: {rowCount} rows of 4-16 words, {DatasetNewTokens} generated tokens, IG {IgSteps} steps; native: {threads} intra-op threads"));
        var results = new JsonArray();
        output.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0,-10} {1,-22} {2,12} {3,12} {4,12} {5,9} {6,9}", "model", "method", "batch 1", $"batch {batchSize}", "python", "vs py", "batching"));
        foreach (var (name, tiny) in new[] { ("gpt2-tiny", "gpt2"), ("bart-tiny", "bart") })
        {
            if (only.Length > 0 && !only.Contains(name, StringComparer.Ordinal))
            {
                continue;
            }

            string dir = Path.Combine(fixtures, tiny);
            JsonObject? py = python is null ? null : RunPythonDataset(python, dir, texts, batchSize, threads, output);
            foreach (string methodId in DatasetMethods)
            {
                AttributionMethod method = AttributionMethod.FromId(methodId, methodId == "integrated_gradients"
                    ? new Dictionary<string, string> { ["n_steps"] = IgSteps.ToString(CultureInfo.InvariantCulture) }
                    : new Dictionary<string, string>());
                using NativeAttributionModel model = NativeAttributionModel.Load(dir, method);
                double one = ExamplesPerSecond(model, method, rows, 1);
                double batched = ExamplesPerSecond(model, method, rows, batchSize);
                double? pySeconds = py?["seconds"]?[methodId]?.GetValue<double>();
                double? pyRate = pySeconds is double s ? rowCount / s : null;
                int? pyBatch = py?["batch_sizes"]?[methodId]?.GetValue<int>();
                if (py?["notes"]?[methodId]?.GetValue<string>() is string note)
                {
                    output.WriteLine($"python {name} {methodId}: {note}");
                }

                output.WriteLine(string.Format(
                    CultureInfo.InvariantCulture, "{0,-10} {1,-22} {2,10:F1}/s {3,10:F1}/s {4,12} {5,9} {6,8:F1}x",
                    name, methodId, one, batched, pyRate is double r ? r.ToString("F1", CultureInfo.InvariantCulture) + "/s" : "-",
                    pyRate is double q ? (batched / q).ToString("F1", CultureInfo.InvariantCulture) + "x" : "-", batched / one));
                results.Add(new JsonObject
                {
                    ["model"] = name,
                    ["method"] = methodId,
                    ["native_batch1_examples_per_s"] = one,
                    ["native_batched_examples_per_s"] = batched,
                    ["batch_size"] = batchSize,
                    ["python_examples_per_s"] = pyRate,
                    ["python_batch_size"] = pyBatch,
                    ["speedup_vs_python"] = pyRate is double p ? batched / p : null,
                });
            }
        }

        output.WriteLine("examples/s of the whole attribute-dataset loop (generation, attribution, JSONL writing) after one warm-up row; python: one batched model.attribute call over all rows (batch_size as native's, or 1 where Inseq 0.6's batched call fails).");
        if (jsonPath is not null)
        {
            File.WriteAllText(jsonPath, new JsonObject { ["dataset"] = results, ["rows"] = rowCount, ["threads"] = threads }.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            output.WriteLine("wrote " + jsonPath);
        }

        return ExitCodes.Success;
    }

    /// <summary>Runs the dataset loop into a temporary JSONL and returns examples per second.</summary>
    private static double ExamplesPerSecond(NativeAttributionModel model, AttributionMethod method, List<DatasetRow> rows, int batchSize)
    {
        AttributionRequest Request(IReadOnlyList<DatasetRow> batch) => new([.. batch.Select(r => r.Text!)])
        {
            Method = method,
            Generation = new GenerationArguments { MaxNewTokens = DatasetNewTokens },
            BatchSize = batchSize,
        };
        model.AttributeEach(Request(rows.Take(1).ToList())); // warm-up
        string folder = Directory.CreateTempSubdirectory("inseq-bridge-dsbench-").FullName;
        try
        {
            var options = new DatasetAttributionOptions(folder, JsonLines: true)
            {
                BatchSize = batchSize,
                BucketKey = r => model.Tokenizer.Encode(r.Text!).Count,
            };
            var clock = Stopwatch.StartNew();
            DatasetAttributionSummary summary = DatasetAttributor.RunBatched(rows, (batch, token) => model.AttributeEach(Request(batch), token), options);
            double seconds = clock.Elapsed.TotalSeconds;
            if (!summary.Complete)
            {
                throw new CliUsageException($"The benchmark run failed: {summary.Failures[0].Error}");
            }

            return rows.Count / seconds;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static JsonObject RunPythonDataset(string python, string dir, List<string> texts, int batchSize, int threads, TextWriter output) =>
        RunPythonScript(python, "bench_dataset.py", threads, work =>
        {
            string rowsFile = Path.Combine(work, "rows.txt");
            File.WriteAllLines(rowsFile, texts);
            return
            [
                "--model", Path.GetFullPath(dir), "--rows", rowsFile, "--methods", string.Join(',', DatasetMethods),
                "--n-steps", IgSteps.ToString(CultureInfo.InvariantCulture), "--max-new-tokens", DatasetNewTokens.ToString(CultureInfo.InvariantCulture),
                "--batch-size", batchSize.ToString(CultureInfo.InvariantCulture), "--threads", threads.ToString(CultureInfo.InvariantCulture),
            ];
        }, $"running Python Inseq ({python}) on {dir} ...", "Python dataset benchmark", output);
}
