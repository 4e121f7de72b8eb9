using System.Text;
using InseqBridge.Aggregation;
using InseqBridge.Data;
using InseqBridge.Datasets;
using InseqBridge.Errors;
using InseqBridge.Serialization;
using InseqBridge.Visualization;
using Xunit.Abstractions;

namespace InseqBridge.Tests.Fuzzing;

/// <summary>
/// Fuzzing of the core readers over mutants of real files (see <see cref="FuzzHarness"/>): each reader either
/// succeeds or throws its documented error, and whatever it accepts also renders, aggregates and re-saves without
/// an undocumented error. Inputs that once broke a reader are replayed from tests/fixtures/fuzz-regressions.
/// </summary>
public sealed class ReaderFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fuzz").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string RegressionDir(string reader) =>
        Path.Combine(ParityFixtures.Root, "..", "fuzz-regressions", reader);

    /// <summary>Real Inseq files: Python's 0.6 output of several models and methods, and our 0.7 and gzip saves.</summary>
    private static IReadOnlyList<byte[]> InseqSeeds()
    {
        string[] names =
        [
            "bart__saliency__forced.json", "gpt2__attention__generated.json", "marian__occlusion__forced.json",
            "bart__integrated_gradients__forced.aggregated.json",
        ];
        var seeds = new List<byte[]>();
        foreach (string name in names)
        {
            string path = Path.Combine(ParityFixtures.Attributions, name);
            if (File.Exists(path))
            {
                seeds.Add(File.ReadAllBytes(path));
            }
        }

        FeatureAttributionOutput sample = InseqJson.Load(Path.Combine(ParityFixtures.Attributions, "bart__saliency__forced.json"));
        string dir = Directory.CreateTempSubdirectory("fuzz-seeds").FullName;
        try
        {
            foreach (var options in new[]
            {
                new SaveOptions(Encoding: InseqJsonEncoding.Inseq07),
                new SaveOptions(Encoding: InseqJsonEncoding.Inseq07, ScoresPrecision: ScoresPrecision.Float16, Compress: true),
                new SaveOptions(Encoding: InseqJsonEncoding.Inseq06, Compress: true),
            })
            {
                string path = Path.Combine(dir, $"seed{seeds.Count}.json");
                sample.Save(path, options);
                seeds.Add(File.ReadAllBytes(path));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        return seeds;
    }

    private void ReadInseqJson(byte[] bytes)
    {
        string path = Path.Combine(_dir, $"m{Environment.CurrentManagedThreadId}.json");
        File.WriteAllBytes(path, bytes);
        FeatureAttributionOutput loaded = InseqJson.Load(path);

        // Whatever loads must also show, aggregate and save like a real result.
        _ = PlainTextHeatmap.Render(loaded, 100);
        _ = HtmlRenderer.Render(loaded);
        _ = loaded.GetScoresDicts();
        _ = InseqJson.Serialize(loaded, new SaveOptions(Encoding: InseqJsonEncoding.Inseq06));
        _ = InseqJson.Serialize(loaded, new SaveOptions(Encoding: InseqJsonEncoding.Inseq07));
    }

    private static bool InseqJsonErrors(Exception e) => e is InseqJsonException or InseqBridgeException;

    [Fact]
    public void Inseq_json_reader_survives_mutated_files()
    {
        long tried = FuzzHarness.Run("inseq-json", InseqSeeds(), ReadInseqJson, InseqJsonErrors, output.WriteLine);
        Assert.True(tried > 0);
    }

    [Fact]
    public void Inseq_json_regressions_fail_cleanly()
    {
        foreach (string file in Files(RegressionDir("inseq-json")))
        {
            try
            {
                ReadInseqJson(File.ReadAllBytes(file));
            }
            catch (Exception e) when (InseqJsonErrors(e))
            {
                Assert.DoesNotContain("System.", e.Message, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void Safetensors_reader_survives_mutated_blobs()
    {
        FeatureAttributionOutput sample = InseqJson.Load(Path.Combine(ParityFixtures.Attributions, "gpt2__attention__generated.json"));
        var seeds = new List<byte[]>
        {
            TensorCodec.EncodeSafetensors(sample.SequenceAttributions[0].TargetAttributions!, ScoresPrecision.Float32),
            TensorCodec.EncodeSafetensors(sample.SequenceAttributions[0].TargetAttributions!, ScoresPrecision.Float8),
            SafetensorsFormat.Write(
                [new("a", SafetensorsTensor.FromFloats(SafetensorsDType.BF16, [1f, 2f, 3f, 4f], 2, 2)), new("b", SafetensorsTensor.FromFloats(SafetensorsDType.F16, [1f], 1))],
                new Dictionary<string, string> { ["format"] = "pt" }),
        };
        long tried = FuzzHarness.Run("safetensors", seeds, blob => SafetensorsFormat.Read(blob), e => e is FormatException, output.WriteLine);
        Assert.True(tried > 0);
    }

    [Fact]
    public void Safetensors_regressions_fail_cleanly()
    {
        foreach (string file in Files(RegressionDir("safetensors")))
        {
            var e = Assert.Throws<FormatException>(() => SafetensorsFormat.Read(File.ReadAllBytes(file)));
            Assert.DoesNotContain("System.", e.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(DatasetFormat.JsonLines)]
    [InlineData(DatasetFormat.Csv)]
    [InlineData(DatasetFormat.Tsv)]
    [InlineData(DatasetFormat.PlainText)]
    public void Dataset_reader_survives_mutated_files(DatasetFormat format)
    {
        string seed = format switch
        {
            DatasetFormat.JsonLines => "{\"text\": \"seven two\", \"generated\": \"72\"}\n{\"text\": \"nine \\\"four\\\"\\u00e9\", \"generated\": \"94\"}\n\n{\"text\": \"one\", \"extra\": [1, {\"a\": null}]}\n",
            DatasetFormat.Csv => "text,generated\n\"seven, two\",72\n\"nine \"\"four\"\"\n\",94\none,1\n",
            DatasetFormat.Tsv => "text\tgenerated\nseven two\t72\nnine four\t94\n",
            _ => "seven two\nnine four\r\n\none\n",
        };
        bool withGenerated = format != DatasetFormat.PlainText;
        long tried = FuzzHarness.Run(
            $"dataset-{format}",
            [Encoding.UTF8.GetBytes(seed)],
            bytes =>
            {
                var rows = DatasetReader.Parse(Encoding.UTF8.GetString(bytes), format, "text", withGenerated ? "generated" : null, "fuzz");
                foreach (DatasetRow row in rows)
                {
                    // A row is either usable or carries an error naming it, never both or neither.
                    Assert.True(row.IsValid == (row.Text is not null), $"row {row.Number}: text {row.Text}, error {row.Error}");
                }
            },
            e => e is InvalidInputException,
            output.WriteLine);
        Assert.True(tried > 0);
    }

    private static IEnumerable<string> Files(string dir) =>
        Directory.Exists(dir) ? Directory.EnumerateFiles(dir) : [];
}
