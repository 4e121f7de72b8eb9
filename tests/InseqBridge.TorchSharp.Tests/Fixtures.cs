using System.Text.Json;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Models;

namespace InseqBridge.Native.Tests;

/// <summary>Locates the parity fixtures (tiny HF checkpoints and real Python outputs) and caches loaded models.</summary>
public static class Fixtures
{
    private static readonly Lazy<string> RootDir = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "InseqBridge.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Cannot find the repository root (InseqBridge.sln).");
    });

    private static readonly Dictionary<string, TransformerLanguageModel> Models = [];

    public static string RepositoryRoot => RootDir.Value;

    public static string ParityDir => Path.Combine(RepositoryRoot, "tests", "fixtures", "parity");

    public static string ReferenceExtraDir => Path.Combine(RepositoryRoot, "tests", "fixtures", "reference-extra");

    public static string ReferenceAggregationDir => Path.Combine(RepositoryRoot, "tests", "fixtures", "reference-aggregation");

    public static string ReferenceVarietyDir => Path.Combine(RepositoryRoot, "tests", "fixtures", "reference-variety");

    /// <summary>The real-checkpoint set (shared/parity-real): its slow-tokenizer models with their Inseq cases.</summary>
    public static string ParityRealDir => Path.Combine(RepositoryRoot, "tests", "fixtures", "parity-real");

    public static string RealModelDir(string name) => Path.Combine(ParityRealDir, "models", name);

    /// <summary>The real-checkpoint fixtures (see tests/fixtures/parity-real/README.md).</summary>
    public static IEnumerable<string> RealModelNames => ["llama3_tied_rope", "mistral_swa_sharded", "qwen2_tied_fp16"];

    /// <summary>A loaded real-checkpoint fixture (float32), shared by the tests.</summary>
    public static TransformerLanguageModel RealModel(string name)
    {
        lock (Models)
        {
            string key = "real:" + name;
            if (!Models.TryGetValue(key, out var model))
            {
                string dir = RealModelDir(name);
                model = TransformerLanguageModel.Load(dir, ModelConfig.Load(dir));
                Models[key] = model;
            }

            return model;
        }
    }

    /// <summary>Encoder-decoders with different encoder and decoder depths, with Python Inseq outputs
    /// (python/reference/make_asymmetric_models.py, python/reference/cases/asymmetric.json).</summary>
    public static string ReferenceAsymmetricDir => Path.Combine(RepositoryRoot, "tests", "fixtures", "reference-asymmetric");

    /// <summary>A fixture model folder: tests/fixtures/parity/models/NAME, else the same under reference-asymmetric or
    /// parity-real.</summary>
    public static string ModelDir(string name)
    {
        string parity = Path.Combine(ParityDir, "models", name);
        string asymmetric = Path.Combine(ReferenceAsymmetricDir, "models", name);
        return Directory.Exists(parity) ? parity : Directory.Exists(asymmetric) ? asymmetric : Path.Combine(ParityRealDir, "models", name);
    }

    public static IEnumerable<string> ModelNames => ["gpt2", "bart", "llama", "qwen2", "marian", "t5", "gpt_neox", "opt", "gemma", "phi", "m2m100", "mt5"];

    public static JsonDocument Json(string path) => JsonDocument.Parse(File.ReadAllBytes(path));

    /// <summary>A loaded model shared by the tests (models are immutable and thread-safe).</summary>
    public static TransformerLanguageModel Model(string name)
    {
        lock (Models)
        {
            if (!Models.TryGetValue(name, out var model))
            {
                string dir = ModelDir(name);
                model = TransformerLanguageModel.Load(dir, ModelConfig.Load(dir));
                Models[name] = model;
            }

            return model;
        }
    }
}
