using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using InseqBridge.Native.Attribution;
using InseqBridge.Native.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// The <c>llama-3.2-1b</c> bench case (run with <c>bench --only llama-3.2-1b</c>; heavy, never part of the default
/// run): a random-weight checkpoint of Llama-3.2-1B's exact shape, stored in bf16 as published, loaded in float32 and
/// in bfloat16. Reports load time, peak RSS while loading and while attributing (saliency, 20-token prompt and 10
/// forced tokens), and, with <c>--python</c>, transformers' <c>from_pretrained</c> of the same folder.
/// </summary>
public static partial class BenchCommand
{
    /// <summary>Name of the case for <c>--only</c>.</summary>
    public const string Llama1BCase = "llama-3.2-1b";

    /// <summary>Load target of the issue: seconds.</summary>
    private const double LoadTargetSeconds = 5.0;

    /// <summary>Load target of the issue: peak RSS over the weights' size in the compute dtype.</summary>
    private const double RssTargetRatio = 1.3;

    /// <summary>The shape of a Llama checkpoint (Llama-3.2-1B by default).</summary>
    internal sealed record LlamaShape(
        int Hidden = 2048, int Layers = 16, int Heads = 32, int KvHeads = 8, int Intermediate = 8192, int Vocab = 128256, int HeadDim = 64)
    {
        /// <summary>Every weight with its shape (tied head: no lm_head.weight), in HF order.</summary>
        public IEnumerable<(string Name, long[] Shape)> Tensors()
        {
            yield return ("model.embed_tokens.weight", [Vocab, Hidden]);
            for (int i = 0; i < Layers; i++)
            {
                string p = $"model.layers.{i}.";
                yield return (p + "input_layernorm.weight", [Hidden]);
                yield return (p + "mlp.down_proj.weight", [Hidden, Intermediate]);
                yield return (p + "mlp.gate_proj.weight", [Intermediate, Hidden]);
                yield return (p + "mlp.up_proj.weight", [Intermediate, Hidden]);
                yield return (p + "post_attention_layernorm.weight", [Hidden]);
                yield return (p + "self_attn.k_proj.weight", [(long)KvHeads * HeadDim, Hidden]);
                yield return (p + "self_attn.o_proj.weight", [Hidden, (long)Heads * HeadDim]);
                yield return (p + "self_attn.q_proj.weight", [(long)Heads * HeadDim, Hidden]);
                yield return (p + "self_attn.v_proj.weight", [(long)KvHeads * HeadDim, Hidden]);
            }

            yield return ("model.norm.weight", [Hidden]);
        }

        public long Parameters => Tensors().Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b));

        /// <summary>Llama-3.2-1B's config.json with this shape; bos/eos are the GPT-2 tokenizer's (the bench's texts use it).</summary>
        public JsonObject Config(int bosEos) => new()
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["attention_bias"] = false,
            ["attention_dropout"] = 0.0,
            ["bos_token_id"] = bosEos,
            ["eos_token_id"] = bosEos,
            ["head_dim"] = HeadDim,
            ["hidden_act"] = "silu",
            ["hidden_size"] = Hidden,
            ["initializer_range"] = 0.02,
            ["intermediate_size"] = Intermediate,
            ["max_position_embeddings"] = 131072,
            ["mlp_bias"] = false,
            ["model_type"] = "llama",
            ["num_attention_heads"] = Heads,
            ["num_hidden_layers"] = Layers,
            ["num_key_value_heads"] = KvHeads,
            ["pretraining_tp"] = 1,
            ["rms_norm_eps"] = 1e-5,
            ["rope_scaling"] = new JsonObject
            {
                ["factor"] = 32.0,
                ["high_freq_factor"] = 4.0,
                ["low_freq_factor"] = 1.0,
                ["original_max_position_embeddings"] = 8192,
                ["rope_type"] = "llama3",
            },
            ["rope_theta"] = 500000.0,
            ["tie_word_embeddings"] = true,
            ["torch_dtype"] = "bfloat16",
            ["use_cache"] = true,
            ["vocab_size"] = Vocab,
        };
    }

    private static int RunLlama1B(string? python, string? jsonPath, string? modelsDir, TextWriter output)
    {
        string fixtures = FindFixtureModels();
        var shape = new LlamaShape();
        string? temp = null;
        try
        {
            string parent = modelsDir ?? (temp = Directory.CreateTempSubdirectory("inseq-bridge-bench-").FullName);
            string dir = Path.Combine(parent, Llama1BCase);
            if (File.Exists(Path.Combine(dir, "model.safetensors")))
            {
                output.WriteLine($"reusing the random-weight {Llama1BCase} in {dir}");
            }
            else
            {
                output.WriteLine($"creating a random-weight {Llama1BCase} ({shape.Parameters / 1e9:F3}B parameters, bf16) in {dir} ...");
                var watch = Stopwatch.StartNew();
                WriteLlamaCheckpoint(Path.Combine(fixtures, "gpt2"), dir, shape);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  written in {watch.Elapsed.TotalSeconds:F1} s"));
            }

            double fileGb = new FileInfo(Path.Combine(dir, "model.safetensors")).Length / 1e9;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"native: {torch.get_num_threads()} intra-op threads, {Environment.ProcessorCount} logical CPUs; model.safetensors {fileGb:F2} GB"));
            var rows = new JsonArray();
            foreach (ModelDType dtype in new[] { ModelDType.Float32, ModelDType.BFloat16 })
            {
                JsonObject row = MeasureLlama(dir, dtype, shape, output);
                if (python is not null)
                {
                    JsonObject py = RunPythonLoad(python, dir, dtype, output);
                    row["python_load_s"] = py["load_s"]?.GetValue<double>();
                    row["python_load_peak_rss_mb"] = py["peak_rss_mb"]?.GetValue<double>();
                    row["python_versions"] = py["versions"]?.DeepClone();
                }

                rows.Add(row);
            }

            output.WriteLine();
            output.WriteLine($"{Llama1BCase}: load = NativeAttributionModel.Load (config, tokenizer, weights); RSS = peak resident set of this process (MiB);");
            output.WriteLine("cpu = CPU time of this process (user + system) over the same interval: on a shared machine it stays meaningful when wall time does not;");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"targets: load < {LoadTargetSeconds} s, load peak RSS < {RssTargetRatio}x the weights in the compute dtype; saliency: {PromptTokens}-token prompt + {ForcedTokens} forced tokens"));
            output.WriteLine(string.Format(
                CultureInfo.InvariantCulture, "{0,-9} {1,9} {2,8} {3,8} {4,11} {5,11} {6,8} {7,11} {8,8} {9,12} {10,10} {11,12}",
                "dtype", "weights", "load s", "cpu s", "load RSS", "baseline", "ratio", "saliency s", "cpu s", "attrib RSS", "python s", "python RSS"));
            foreach (JsonNode? r in rows)
            {
                output.WriteLine(string.Format(
                    CultureInfo.InvariantCulture, "{0,-9} {1,9:F0} {2,8:F2} {3,8:F2} {4,11:F0} {5,11:F0} {6,7:F2}x {7,11:F2} {8,8:F2} {9,12:F0} {10,10} {11,12}",
                    r!["dtype"]!.GetValue<string>(), r["weights_mb"]!.GetValue<double>(), r["load_s"]!.GetValue<double>(), r["load_cpu_s"]!.GetValue<double>(),
                    r["load_peak_rss_mb"]!.GetValue<double>(), r["baseline_rss_mb"]!.GetValue<double>(), r["load_rss_ratio"]!.GetValue<double>(),
                    r["saliency_s"]!.GetValue<double>(), r["saliency_cpu_s"]!.GetValue<double>(), r["attribute_peak_rss_mb"]!.GetValue<double>(),
                    r["python_load_s"]?.GetValue<double>().ToString("F2", CultureInfo.InvariantCulture) ?? "-",
                    r["python_load_peak_rss_mb"]?.GetValue<double>().ToString("F0", CultureInfo.InvariantCulture) ?? "-"));
            }

            if (jsonPath is not null)
            {
                var root = new JsonObject { ["case"] = Llama1BCase, ["parameters"] = shape.Parameters, ["file_gb"] = fileGb, ["rows"] = rows };
                File.WriteAllText(jsonPath, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                output.WriteLine("wrote " + jsonPath);
            }

            return ExitCodes.Success;
        }
        finally
        {
            if (temp is not null)
            {
                Directory.Delete(temp, recursive: true);
            }
        }
    }

    private static JsonObject MeasureLlama(string dir, ModelDType dtype, LlamaShape shape, TextWriter output)
    {
        PeakRss.Reset();
        double baseline = PeakRss.Megabytes();
        using var process = Process.GetCurrentProcess();
        TimeSpan cpuBefore = process.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        using NativeAttributionModel model = NativeAttributionModel.Load(dir, modelName: Llama1BCase, dtype: dtype);
        double load = watch.Elapsed.TotalSeconds;
        process.Refresh();
        double loadCpu = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
        double loadRss = PeakRss.Megabytes();
        double weightsMb = shape.Parameters * (dtype == ModelDType.Float32 ? 4.0 : 2.0) / (1024.0 * 1024.0);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{dtype.ToName()}: loaded in {load:F2} s ({loadCpu:F2} s of CPU time), peak RSS {loadRss:F0} MiB (weights {weightsMb:F0} MiB, before loading {baseline:F0} MiB)"));

        var (input, generated) = Texts(model, ForcedTokens);
        var request = Request("saliency", input, generated);
        // One call (it includes first-call costs): a 1B model on 2 cores takes minutes per call.
        PeakRss.Reset();
        process.Refresh();
        cpuBefore = process.TotalProcessorTime;
        watch.Restart();
        model.Attribute(request);
        double saliency = watch.Elapsed.TotalSeconds;
        process.Refresh();
        double saliencyCpu = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
        double attributeRss = PeakRss.Megabytes();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{dtype.ToName()}: saliency {saliency:F2} s ({saliencyCpu:F2} s of CPU time), peak RSS {attributeRss:F0} MiB"));
        return new JsonObject
        {
            ["dtype"] = dtype.ToName(),
            ["weights_mb"] = weightsMb,
            ["load_s"] = load,
            ["load_cpu_s"] = loadCpu,
            ["baseline_rss_mb"] = baseline,
            ["load_peak_rss_mb"] = loadRss,
            ["load_rss_ratio"] = loadRss / weightsMb,
            ["saliency_s"] = saliency,
            ["saliency_cpu_s"] = saliencyCpu,
            ["attribute_peak_rss_mb"] = attributeRss,
            ["load_target_met"] = load < LoadTargetSeconds,
            ["rss_target_met"] = loadRss / weightsMb < RssTargetRatio,
        };
    }

    /// <summary>
    /// Writes the checkpoint (bf16, one file, as Llama-3.2-1B is published) with the GPT-2 fixture's tokenizer files:
    /// N(0, 0.02) matrices, ones for norms, streamed tensor by tensor in chunks.
    /// </summary>
    internal static void WriteLlamaCheckpoint(string tokenizerSource, string target, LlamaShape shape)
    {
        Directory.CreateDirectory(target);
        foreach (string file in new[] { "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json" })
        {
            string source = Path.Combine(tokenizerSource, file);
            if (File.Exists(source))
            {
                File.Copy(source, Path.Combine(target, file), overwrite: true);
            }
        }

        const int gpt2EndOfText = 50256;
        File.WriteAllText(Path.Combine(target, "config.json"), shape.Config(gpt2EndOfText).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.WriteAllText(Path.Combine(target, "generation_config.json"), $$"""{"bos_token_id": {{gpt2EndOfText}}, "eos_token_id": {{gpt2EndOfText}}}""");

        var tensors = shape.Tensors().ToList();
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = "pt" } };
        long offset = 0;
        foreach (var (name, dims) in tensors)
        {
            long bytes = dims.Aggregate(2L, (a, b) => a * b);
            header[name] = new JsonObject
            {
                ["dtype"] = "BF16",
                ["shape"] = new JsonArray(dims.Select(s => (JsonNode?)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }

        byte[] headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (headerBytes.Length + 7) / 8 * 8;
        string partial = Path.Combine(target, "model.safetensors.partial");
        using (var stream = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            stream.Write(BitConverter.GetBytes((ulong)padded));
            stream.Write(headerBytes);
            stream.Write(Enumerable.Repeat((byte)' ', padded - headerBytes.Length).ToArray());
            using var generator = new torch.Generator(0);
            const long chunk = 8 << 20;
            foreach (var (name, dims) in tensors)
            {
                long count = dims.Aggregate(1L, (a, b) => a * b);
                bool norm = name.EndsWith("norm.weight", StringComparison.Ordinal);
                for (long done = 0; done < count; done += chunk)
                {
                    using var scope = torch.NewDisposeScope();
                    long n = Math.Min(chunk, count - done);
                    using Scalar std = 0.02.ToScalar();
                    Tensor values = norm ? torch.ones(n, ScalarType.BFloat16) : torch.randn(n, generator: generator).mul_(std).to(ScalarType.BFloat16);
                    stream.Write(values.bytes);
                }
            }
        }

        File.Move(partial, Path.Combine(target, "model.safetensors"), overwrite: true);
    }

    private static JsonObject RunPythonLoad(string python, string dir, ModelDType dtype, TextWriter output) =>
        RunPythonScript(python, "bench_load.py", torch.get_num_threads(), _ => ["--model", Path.GetFullPath(dir), "--dtype", dtype.ToName()],
            $"running transformers' from_pretrained ({python}, {dtype.ToName()}) on {dir} ...", "Python load benchmark", output);
}
