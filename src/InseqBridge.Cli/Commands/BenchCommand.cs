using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using InseqBridge.Attribution;
using InseqBridge.Native;
using InseqBridge.Native.Attribution;
using InseqBridge.Native.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// <c>bench</c>: a fixed benchmark of the native engine (fast and reference mode) and, with <c>--python</c>, Python
/// Inseq on the same checkpoints: random-weight GPT-2-small- and BART-base-sized models (or, with <c>--quick</c>,
/// the tiny reference models), a 20-token prompt with 10 forced tokens, methods saliency, integrated_gradients
/// (50 steps) and attention. Prints medians, ratios, peak RSS, GFLOP/s against a matmul probe, thread counts, BLAS,
/// and the cost growth against generated length.
/// </summary>
public static partial class BenchCommand
{
    private static readonly string[] Methods = ["saliency", "integrated_gradients", "attention"];
    private static readonly string[] GrowthMethods = ["saliency", "integrated_gradients"];
    private static readonly int[] GrowthLengths = [5, 10, 20, 40];
    private const int PromptTokens = 20;
    private const int ForcedTokens = 10;
    private const int IgSteps = 50;

    private const string Text =
        "The old lighthouse keeper climbed the winding stairs every evening to light the lamp that guided ships " +
        "safely past the rocky coast. Over the years he had seen storms tear sails apart and fog swallow whole " +
        "fleets, yet the light never failed. Children from the village would bring him bread and news, and in " +
        "return he told them stories about sailors, whales and the strange lights that sometimes danced on the water " +
        "long after midnight when the sea was calm and the stars were bright.";

    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var python = new Option<string?>("--python") { Description = "Python interpreter with inseq installed: also time Python Inseq on the same checkpoints.", HelpName = "PATH" };
        var quick = new Option<bool>("--quick") { Description = "Use the tiny reference models (tests/fixtures/parity/models) instead of full-size ones." };
        var json = new Option<string?>("--json") { Description = "Save the figures as JSON.", HelpName = "FILE" };
        var repeats = new Option<int?>("--repeats") { Description = "Timed runs per case (default: 5 with --quick, 3 otherwise).", HelpName = "N" };
        var only = new Option<string[]>("--only")
        {
            Description = "Run only these cases, as MODEL or MODEL:METHOD (e.g. gpt2-small:integrated_gradients); repeatable (with --dataset: gpt2-tiny or bart-tiny). " +
                $"'{Llama1BCase}' (never run by default) loads a random-weight Llama-3.2-1B-shaped bf16 checkpoint in float32 and bfloat16: load time, peak RSS, saliency.",
            HelpName = "CASE",
            AllowMultipleArgumentsPerToken = true,
        };
        var noGrowth = new Option<bool>("--no-growth") { Description = "Skip the cost-growth runs." };
        var modelsDir = new Option<string?>("--models-dir")
        {
            Description = "Keep the random-weight full-size models in this folder (created when missing, reused when present) instead of a temporary one.",
            HelpName = "DIR",
        };
        var contention = new Option<bool>("--contention")
        {
            Description = "Also time every case (fast mode, and Python Inseq with --python) while a busy process started by the bench keeps one CPU busy, and report each side's slowdown.",
        };
        var dataset = new Option<bool>("--dataset") { Description = "Measure attribute-dataset throughput instead (examples/s on --rows rows of the tiny GPT-2 and BART, saliency and IG; one row per call vs --batch-size rows; Python Inseq with --python)." };
        var rows = new Option<int>("--rows") { Description = "Rows of the --dataset benchmark.", DefaultValueFactory = _ => 200, HelpName = "N" };
        var batchSize = new Option<int>("--batch-size") { Description = "Rows per call in the --dataset benchmark (native and Python).", DefaultValueFactory = _ => 16, HelpName = "N" };
        var command = new Command("bench", "Benchmark fast and reference mode (and Python Inseq) on fixed models.") { python, quick, json, repeats, only, noGrowth, modelsDir, contention, dataset, rows, batchSize };
        command.Subcommands.Add(ServeSubcommand()); // bench serve: load on the HTTP service
        command.SetAction(parseResult => parseResult.GetValue(dataset)
            ? RunDataset(parseResult.GetValue(python), parseResult.GetValue(rows), parseResult.GetValue(batchSize), parseResult.GetValue(json), parseResult.GetValue(only) ?? [], parseResult.InvocationConfiguration.Output)
            : Run(
            parseResult.GetValue(python), parseResult.GetValue(quick), parseResult.GetValue(json), parseResult.GetValue(repeats),
            parseResult.GetValue(only) ?? [], parseResult.GetValue(noGrowth), parseResult.GetValue(modelsDir), parseResult.GetValue(contention),
            parseResult.InvocationConfiguration.Output));
        return command;
    }

    /// <summary>
    /// One benchmarked case: medians in seconds; peak RSS of the fast runs (this process, the model loaded) and of the
    /// Python process (model load and every method); with --contention, fast mode's and Python's medians while a
    /// busy process keeps one CPU busy.
    /// </summary>
    private sealed record Case(string Model, string Method, double Fast, double Reference, double? Python, double PeakRssMb, double? PythonPeakRssMb)
    {
        public double? FastContended { get; init; }

        public double? PythonContended { get; init; }
    }

    private static int Run(string? python, bool quick, string? jsonPath, int? repeatOption, string[] only, bool noGrowth, string? modelsDir, bool contention, TextWriter output)
    {
        bool Selected(string model, string? method) => only.Length == 0 || only.Any(o =>
            o == model || (method is not null && o == model + ":" + method) || (method is null && o.StartsWith(model + ":", StringComparison.Ordinal)));
        if (only.Contains(Llama1BCase))
        {
            // Heavy (a 1.2B-parameter model in float32 and bfloat16): only when asked for by name.
            int code = RunLlama1B(python, jsonPath, modelsDir, output);
            only = only.Where(o => o != Llama1BCase).ToArray();
            if (only.Length == 0)
            {
                return code;
            }
        }

        int repeats = repeatOption ?? (quick ? 5 : 3);
        if (repeats < 1)
        {
            throw new CliUsageException("--repeats must be at least 1.");
        }

        string fixtures = FindFixtureModels();
        string? temp = null;
        try
        {
            var models = new List<(string Name, string Dir)>();
            (string Name, string Tiny, bool IsBart)[] specs = quick
                ? [("gpt2-tiny", "gpt2", false), ("bart-tiny", "bart", true)]
                : [("gpt2-small", "gpt2", false), ("bart-base", "bart", true)];
            foreach (var (name, tiny, isBart) in specs.Where(m => Selected(m.Name, null)))
            {
                if (quick)
                {
                    models.Add((name, Path.Combine(fixtures, tiny)));
                    continue;
                }

                string parent = modelsDir ?? (temp ??= Directory.CreateTempSubdirectory("inseq-bridge-bench-").FullName);
                string target = Path.Combine(parent, name);
                if (modelsDir is not null && File.Exists(Path.Combine(target, "model.safetensors")))
                {
                    output.WriteLine($"reusing the random-weight {name} in {target}");
                    models.Add((name, target));
                    continue;
                }

                output.WriteLine($"creating a random-weight {name} in {target}");
                models.Add((name, ScaledCheckpoint(Path.Combine(fixtures, tiny), target, isBart)));
            }

            if (models.Count == 0)
            {
                throw new CliUsageException($"--only matches no model: the models are {string.Join(", ", specs.Select(m => m.Name))}.");
            }

            NativeRuntimeStatus runtime = NativeRuntime.Configure();
            int threads = torch.get_num_threads();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"native: TorchSharp/libtorch-cpu, {threads} intra-op threads ({runtime.ThreadsSource}), BLAS: {NativeBlas()}; {runtime.AvailableCpus} CPUs available to this process (affinity mask, cgroup quota), {Environment.ProcessorCount} by .NET's count; allocator: {(NativeAllocator.RetainFreedMemory() ? "glibc, freed memory retained (Python gets the same MALLOC_* settings)" : "default")}"));
            output.WriteLine($"native OpenMP waiting: {runtime.WaitPolicy}{(runtime.WaitPolicyApplied ? string.Empty : " (not in effect)")}");
            if (runtime.Warning is not null)
            {
                output.WriteLine("warning: " + runtime.Warning);
            }
            double matmul = MatmulProbe();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"matmul probe (2048x2048 fp32, same process): {matmul:F1} GFLOP/s"));

            var cases = new List<Case>();
            double igGflops = 0;
            var growthLines = new List<string>();
            foreach (var (name, dir) in models)
            {
                string[] methods = Methods.Where(m => Selected(name, m)).ToArray();
                bool growth = !noGrowth && methods.Any(GrowthMethods.Contains);
                PeakRss.Reset();
                using NativeAttributionModel model = NativeAttributionModel.Load(dir, modelName: name);
                var (input, generated) = Texts(model, ForcedTokens);
                JsonObject? py = python is null ? null
                    : RunPython(python, dir, input, generated, methods, threads, repeats, growth && !model.IsEncoderDecoder ? model : null, output);
                foreach (string method in methods)
                {
                    CliContext.Token.ThrowIfCancellationRequested(); // Ctrl+C stops between measurements
                    var request = Request(method, input, generated);
                    PeakRss.Reset();
                    double fast = Median(model, request with { Mode = ExecutionMode.Fast }, repeats);
                    double rss = PeakRss.Megabytes();
                    double reference = Median(model, request with { Mode = ExecutionMode.Reference }, repeats);
                    double? pyTime = py?["median"]?[method]?.GetValue<double>();
                    double? pyRss = py?["peak_rss_mb"]?.GetValue<double>();
                    cases.Add(new Case(name, method, fast, reference, pyTime, rss, pyRss));
                    if (method == "integrated_gradients" && !model.IsEncoderDecoder)
                    {
                        igGflops = IgFlops(model, input, generated) / fast / 1e9;
                    }
                }

                if (contention)
                {
                    CompetingProcess busy = StartCompeting(output);
                    try
                    {
                        foreach (string method in methods)
                        {
                            int index = cases.FindIndex(c => c.Model == name && c.Method == method);
                            cases[index] = cases[index] with { FastContended = Median(model, Request(method, input, generated) with { Mode = ExecutionMode.Fast }, repeats) };
                        }
                    }
                    finally
                    {
                        StopCompeting(busy, output);
                    }

                    if (python is not null)
                    {
                        JsonObject pyBusy;
                        busy = StartCompeting(output);
                        try
                        {
                            pyBusy = RunPython(python, dir, input, generated, methods, threads, repeats, null, output);
                        }
                        finally
                        {
                            StopCompeting(busy, output);
                        }

                        foreach (string method in methods)
                        {
                            int index = cases.FindIndex(c => c.Model == name && c.Method == method);
                            cases[index] = cases[index] with { PythonContended = pyBusy["median"]?[method]?.GetValue<double>() };
                        }
                    }
                }

                if (growth && !model.IsEncoderDecoder)
                {
                    growthLines.AddRange(Growth(model, methods.Where(GrowthMethods.Contains), quick, py));
                }

                if (py is not null)
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"python ({name}): torch {py["torch"]}, inseq {py["inseq"]}, {py["threads"]} threads, peak RSS {py["peak_rss_mb"]?.GetValue<double>():F0} MB, BLAS: {py["blas"]}"));
                }
            }

            output.WriteLine();
            output.WriteLine($"medians over {repeats} runs (seconds); 20-token prompt, 10 forced tokens, IG with {IgSteps} steps;");
            output.WriteLine("fast MB: peak RSS of this process during the fast runs of the case (model loaded); python MB: peak RSS of the Python process (model load and all methods)");
            output.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0,-12} {1,-22} {2,10} {3,10} {4,10} {5,9} {6,9} {7,10} {8,10}", "model", "method", "fast", "reference", "python", "vs ref", "vs py", "fast MB", "python MB"));
            foreach (Case c in cases)
            {
                output.WriteLine(string.Format(
                    CultureInfo.InvariantCulture, "{0,-12} {1,-22} {2,10:F4} {3,10:F4} {4,10} {5,8:F1}x {6,9} {7,10:F0} {8,10}",
                    c.Model, c.Method, c.Fast, c.Reference, c.Python is double p ? p.ToString("F4", CultureInfo.InvariantCulture) : "-",
                    c.Reference / c.Fast, c.Python is double q ? (q / c.Fast).ToString("F1", CultureInfo.InvariantCulture) + "x" : "-", c.PeakRssMb,
                    c.PythonPeakRssMb is double m ? m.ToString("F0", CultureInfo.InvariantCulture) : "-"));
            }

            if (contention)
            {
                output.WriteLine();
                output.WriteLine("under contention: the same cases while one busy process keeps one CPU busy (medians, seconds; slowdown = contended / quiet):");
                output.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0,-12} {1,-22} {2,10} {3,10} {4,9} {5,10} {6,10} {7,9} {8,9}", "model", "method", "fast", "contended", "slowdown", "python", "contended", "slowdown", "vs py"));
                foreach (Case c in cases)
                {
                    string Fmt(double? v, string format, string suffix = "") => v is double x ? x.ToString(format, CultureInfo.InvariantCulture) + suffix : "-";
                    output.WriteLine(string.Format(
                        CultureInfo.InvariantCulture, "{0,-12} {1,-22} {2,10:F4} {3,10} {4,9} {5,10} {6,10} {7,9} {8,9}",
                        c.Model, c.Method, c.Fast, Fmt(c.FastContended, "F4"), Fmt(c.FastContended / c.Fast, "F2", "x"),
                        Fmt(c.Python, "F4"), Fmt(c.PythonContended, "F4"), Fmt(c.PythonContended / c.Python, "F2", "x"),
                        Fmt(c.PythonContended / c.FastContended, "F1", "x")));
                }
            }

            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"integrated_gradients (fast, decoder-only model): {igGflops:F1} GFLOP/s = {igGflops / matmul:P0} of the matmul probe"));
            output.WriteLine();
            output.WriteLine("cost growth against generated length (decoder-only model, 20-token prompt; seconds):");
            foreach (string line in growthLines)
            {
                output.WriteLine(line);
            }

            if (jsonPath is not null)
            {
                var root = new JsonObject
                {
                    ["cases"] = new JsonArray(cases.Select(c => (JsonNode?)new JsonObject
                    {
                        ["model"] = c.Model,
                        ["method"] = c.Method,
                        ["native_fast_s"] = c.Fast,
                        ["native_reference_s"] = c.Reference,
                        ["python_s"] = c.Python,
                        ["speedup_vs_python"] = c.Python is double p ? p / c.Fast : null,
                        ["speedup_vs_reference"] = c.Reference / c.Fast,
                        ["peak_rss_mb"] = c.PeakRssMb,
                        ["python_peak_rss_mb"] = c.PythonPeakRssMb,
                        ["native_fast_contended_s"] = c.FastContended,
                        ["native_slowdown"] = c.FastContended / c.Fast,
                        ["python_contended_s"] = c.PythonContended,
                        ["python_slowdown"] = c.PythonContended / c.Python,
                        ["speedup_vs_python_contended"] = c.PythonContended / c.FastContended,
                    }).ToArray()),
                    ["matmul_gflops"] = matmul,
                    ["ig_gflops"] = igGflops,
                    ["threads"] = threads,
                    ["threads_source"] = runtime.ThreadsSource,
                    ["available_cpus"] = runtime.AvailableCpus,
                    ["omp_wait_policy"] = runtime.WaitPolicy,
                    ["omp_wait_policy_applied"] = runtime.WaitPolicyApplied,
                    ["contention"] = contention,
                    ["repeats"] = repeats,
                };
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

    private static CompetingProcess StartCompeting(TextWriter output)
    {
        CompetingProcess busy = CompetingProcess.Start();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"competing busy process started: pid {busy.Id}, {(busy.Cpu is int cpu ? $"pinned to CPU {cpu}" : "not pinned")}"));
        return busy;
    }

    private static void StopCompeting(CompetingProcess busy, TextWriter output)
    {
        int id = busy.Id;
        busy.Dispose();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"competing busy process stopped: pid {id}"));
    }

    private static AttributionRequest Request(string method, string input, string generated) => new([input])
    {
        GeneratedTexts = [generated],
        Method = AttributionMethod.FromId(method, method == "integrated_gradients"
            ? new Dictionary<string, string> { ["n_steps"] = IgSteps.ToString(CultureInfo.InvariantCulture) }
            : new Dictionary<string, string>()),
    };

    /// <summary>A prompt of 20 tokens and a forced output of <paramref name="forced"/> more (decoder-only: prompt + continuation).</summary>
    private static (string Input, string Generated) Texts(NativeAttributionModel model, int forced)
    {
        int[] ids = model.Tokenizer.Encode(Text).Where(id => !model.Tokenizer.IsSpecial(id)).ToArray();
        string Decode(IEnumerable<int> part) => model.Tokenizer.Decode(part.ToList(), skipSpecialTokens: true, cleanUpTokenizationSpaces: false);
        string input = Decode(ids.Take(PromptTokens));
        return model.IsEncoderDecoder
            ? (input, Decode(ids.Skip(PromptTokens).Take(forced)).Trim())
            : (input, Decode(ids.Take(PromptTokens + forced)));
    }

    private static double Median(NativeAttributionModel model, AttributionRequest request, int repeats)
    {
        model.Attribute(request);
        var times = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            CliContext.Token.ThrowIfCancellationRequested();
            GC.Collect();
            var watch = Stopwatch.StartNew();
            model.Attribute(request);
            times[i] = watch.Elapsed.TotalSeconds;
        }

        Array.Sort(times);
        return repeats % 2 == 1 ? times[repeats / 2] : (times[(repeats / 2) - 1] + times[repeats / 2]) / 2;
    }

    private static IEnumerable<string> Growth(NativeAttributionModel model, IEnumerable<string> methods, bool withReference, JsonObject? py)
    {
        yield return string.Format(CultureInfo.InvariantCulture, "{0,-22} {1,8} {2,10} {3,10} {4,10}", "method", "tokens", "fast", "reference", "python");
        foreach (string method in methods)
        {
            foreach (int length in GrowthLengths)
            {
                var (input, generated) = Texts(model, length);
                var request = Request(method, input, generated);
                double fast = Median(model, request with { Mode = ExecutionMode.Fast }, 1);
                string reference = withReference ? Median(model, request with { Mode = ExecutionMode.Reference }, 1).ToString("F4", CultureInfo.InvariantCulture) : "-";
                string pyTime = py?["growth"]?[method]?[length.ToString(CultureInfo.InvariantCulture)]?.GetValue<double>().ToString("F4", CultureInfo.InvariantCulture) ?? "-";
                yield return string.Format(CultureInfo.InvariantCulture, "{0,-22} {1,8} {2,10:F4} {3,10} {4,10}", method, length, fast, reference, pyTime);
            }
        }
    }

    /// <summary>Median GFLOP/s of a 2048x2048 fp32 matrix product.</summary>
    private static double MatmulProbe()
    {
        const int n = 2048;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        Tensor a = torch.randn(n, n), b = torch.randn(n, n);
        torch.mm(a, b).Dispose();
        var times = new List<double>();
        for (int i = 0; i < 7; i++)
        {
            var watch = Stopwatch.StartNew();
            torch.mm(a, b).Dispose();
            times.Add(watch.Elapsed.TotalSeconds);
        }

        times.Sort();
        return 2.0 * n * n * n / times[times.Count / 2] / 1e9;
    }

    /// <summary>
    /// Useful FLOPs of integrated gradients in fast mode on a GPT-2 model, per interpolation point: one forward
    /// over the sequence (per token 2 x non-embedding weights, plus 4 x layers x d x context for attention scores
    /// and values) with the LM head at the T read positions, then for every step a backward over its prefix (input
    /// gradients only, as the weights are frozen: the forward's matrix FLOPs, twice for attention) and the head.
    /// Positions a block computes beyond a step's prefix are not counted.
    /// </summary>
    private static double IgFlops(NativeAttributionModel model, string input, string generated)
    {
        JsonElement raw = model.Config.Raw;
        double d = raw.GetProperty("n_embd").GetDouble(), layers = raw.GetProperty("n_layer").GetDouble();
        double inner = raw.TryGetProperty("n_inner", out var i) && i.ValueKind == JsonValueKind.Number ? i.GetDouble() : 4 * d;
        double head = 2 * d * model.Config.VocabSize;
        double weights = layers * ((4 * d * d) + (2 * d * inner));
        int prompt = model.Tokenizer.Encode(input).Count, total = model.Tokenizer.Encode(generated).Count;
        double Token(int context, double attentionFactor) => (2 * weights) + (attentionFactor * 4 * layers * d * context);
        double forward = Enumerable.Range(1, total - 1).Sum(c => Token(c, 1)) + ((total - prompt) * head);
        double backward = 0;
        for (int step = prompt; step < total; step++)
        {
            backward += Enumerable.Range(1, step).Sum(c => Token(c, 2)) + head;
        }

        return IgSteps * (forward + backward);
    }

    private static JsonObject RunPython(
        string python, string dir, string input, string generated, string[] methods, int threads, int repeats, NativeAttributionModel? decoderOnly, TextWriter output)
    {
        var growth = new JsonObject();
        if (decoderOnly is not null)
        {
            foreach (int length in GrowthLengths)
            {
                growth[length.ToString(CultureInfo.InvariantCulture)] = Texts(decoderOnly, length).Generated;
            }
        }

        return RunPythonScript(python, "bench_inseq.py", threads, _ =>
        [
            "--model", Path.GetFullPath(dir), "--input", input, "--generated", generated, "--methods", string.Join(',', methods),
            "--n-steps", IgSteps.ToString(CultureInfo.InvariantCulture), "--repeats", repeats.ToString(CultureInfo.InvariantCulture),
            "--threads", threads.ToString(CultureInfo.InvariantCulture), "--growth", growth.ToJsonString(),
        ], $"running Python Inseq ({python}) on {dir} ...", "Python benchmark", output);
    }

    /// <summary>
    /// Runs the embedded Python script <paramref name="resource"/> in a temporary folder with the bench's thread
    /// environment and returns the JSON object on the last line of its output.
    /// </summary>
    /// <param name="python">The interpreter.</param>
    /// <param name="resource">The script's manifest resource name (also its file name).</param>
    /// <param name="threads">Threads for the Python side.</param>
    /// <param name="arguments">The script's arguments, given the temporary folder (to write input files into).</param>
    /// <param name="announce">The line printed before the run.</param>
    /// <param name="what">What failed, for the error ("Python dataset benchmark").</param>
    /// <param name="output">Where progress goes.</param>
    private static JsonObject RunPythonScript(
        string python, string resource, int threads, Func<string, IEnumerable<string>> arguments, string announce, string what, TextWriter output)
    {
        string work = Directory.CreateTempSubdirectory("inseq-bridge-pybench-").FullName;
        try
        {
            string script = Path.Combine(work, resource);
            using (Stream stream = typeof(BenchCommand).Assembly.GetManifestResourceStream(resource)!)
            using (FileStream file = File.Create(script))
            {
                stream.CopyTo(file);
            }

            var info = new ProcessStartInfo(python) { WorkingDirectory = work, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var (name, value) in PythonEnvironment(threads))
            {
                info.Environment[name] = value;
            }

            info.ArgumentList.Add(script);
            foreach (string arg in arguments(work))
            {
                info.ArgumentList.Add(arg);
            }

            output.WriteLine(announce);
            using Process process = Process.Start(info) ?? throw new CliUsageException($"Could not start {python}.");
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            string last = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? string.Empty;
            if (process.ExitCode != 0 || !last.StartsWith('{'))
            {
                throw new CliUsageException($"The {what} failed (exit {process.ExitCode}): {Tail(stderr.Result)}");
            }

            return JsonNode.Parse(last)!.AsObject();
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// The Python side gets what the native side has: the same thread count for every threading layer, and, when
    /// this process retains freed memory (<see cref="NativeAllocator"/>), glibc's equivalent environment settings.
    /// </summary>
    internal static IEnumerable<(string Name, string Value)> PythonEnvironment(int threads)
    {
        string n = threads.ToString(CultureInfo.InvariantCulture);
        yield return ("OMP_NUM_THREADS", n);
        yield return ("MKL_NUM_THREADS", n);
        yield return ("OPENBLAS_NUM_THREADS", n);
        if (NativeAllocator.RetainFreedMemory())
        {
            yield return ("MALLOC_MMAP_THRESHOLD_", NativeAllocator.MmapThresholdBytes.ToString(CultureInfo.InvariantCulture));
            yield return ("MALLOC_TRIM_THRESHOLD_", NativeAllocator.TrimThresholdBytes.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>The BLAS of the native side: libtorch-cpu's Linux x64 builds link Intel oneAPI MKL statically (its version string is in libtorch_cpu.so).</summary>
    private static string NativeBlas() => RuntimeInformation.ProcessArchitecture is Architecture.X64 ? "Intel oneAPI MKL (linked into libtorch-cpu)" : "the one linked into libtorch-cpu";

    private static string Tail(string text) => text.Length <= 2000 ? text : text[^2000..];

    /// <summary>tests/fixtures/parity/models, searched upwards from the working directory and the executable.</summary>
    private static string FindFixtureModels()
    {
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (DirectoryInfo? dir = new(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "tests", "fixtures", "parity", "models");
                if (Directory.Exists(Path.Combine(candidate, "gpt2")) && Directory.Exists(Path.Combine(candidate, "bart")))
                {
                    return candidate;
                }
            }
        }

        throw new CliUsageException("bench needs the repository's tests/fixtures/parity/models (tokenizers and tiny models): run it inside the repository.");
    }

    [GeneratedRegex(@"\.(h|layers)\.(\d+)\.")]
    private static partial Regex LayerPattern();

    /// <summary>
    /// Writes a random-weight copy of a tiny fixture checkpoint scaled to GPT-2 small (12 layers, 768 wide, 12
    /// heads, 3072 inner, 1024 positions) or BART base (6 + 6 layers, 768 wide, 12 heads, 3072 inner, 1024
    /// positions), with the fixture's tokenizer files.
    /// </summary>
    private static string ScaledCheckpoint(string tiny, string target, bool isBart)
    {
        Directory.CreateDirectory(target);
        foreach (string file in new[] { "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "generation_config.json" })
        {
            string source = Path.Combine(tiny, file);
            if (File.Exists(source) && !File.Exists(Path.Combine(target, file)))
            {
                File.Copy(source, Path.Combine(target, file));
            }
        }

        JsonObject config = JsonNode.Parse(File.ReadAllText(Path.Combine(tiny, "config.json")))!.AsObject();
        const int d = 768, heads = 12, inner = 3072, positions = 1024;
        int layers = isBart ? 6 : 12;
        int tinyD, tinyInner, tinyPositions;
        if (isBart)
        {
            (tinyD, tinyInner, tinyPositions) = (config["d_model"]!.GetValue<int>(), config["encoder_ffn_dim"]!.GetValue<int>(), config["max_position_embeddings"]!.GetValue<int>());
            config["d_model"] = d;
            config["encoder_attention_heads"] = heads;
            config["decoder_attention_heads"] = heads;
            config["encoder_ffn_dim"] = inner;
            config["decoder_ffn_dim"] = inner;
            config["encoder_layers"] = layers;
            config["decoder_layers"] = layers;
            config["num_hidden_layers"] = layers;
            config["max_position_embeddings"] = positions;
        }
        else
        {
            (tinyD, tinyInner, tinyPositions) = (config["n_embd"]!.GetValue<int>(), config["n_inner"]!.GetValue<int>(), config["n_positions"]!.GetValue<int>());
            config["n_embd"] = d;
            config["n_head"] = heads;
            config["n_inner"] = inner;
            config["n_layer"] = layers;
            config["n_positions"] = positions;
        }

        File.WriteAllText(Path.Combine(target, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

        var tensors = new List<(string Name, long[] Shape)>();
        foreach (var (name, (_, shape)) in SafetensorsCheckpoint.ReadHeader(Path.Combine(tiny, "model.safetensors")))
        {
            Match layer = LayerPattern().Match(name);
            if (layer.Success && layer.Groups[2].Value != "0")
            {
                continue;
            }

            bool positional = name.Contains("wpe", StringComparison.Ordinal) || name.Contains("embed_positions", StringComparison.Ordinal);
            long[] scaled = shape.Select((s, axis) =>
                positional && axis == 0 ? s - tinyPositions + positions
                : s == tinyD ? d
                : s == 3 * tinyD ? 3 * d
                : s == tinyInner ? inner
                : s).ToArray();
            if (!layer.Success)
            {
                tensors.Add((name, scaled));
                continue;
            }

            for (int l = 0; l < layers; l++)
            {
                tensors.Add((name.Replace(layer.Value, $".{layer.Groups[1].Value}.{l}.", StringComparison.Ordinal), scaled));
            }
        }

        WriteSafetensors(Path.Combine(target, "model.safetensors"), tensors);
        return target;
    }

    /// <summary>Streams F32 tensors to a safetensors file: ones for norm weights, zeros for biases, N(0, 0.02) otherwise.</summary>
    private static void WriteSafetensors(string path, List<(string Name, long[] Shape)> tensors)
    {
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = "pt" } };
        long offset = 0;
        foreach (var (name, shape) in tensors)
        {
            long bytes = shape.Aggregate(4L, (a, b) => a * b);
            header[name] = new JsonObject
            {
                ["dtype"] = "F32",
                ["shape"] = new JsonArray(shape.Select(s => (JsonNode?)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }

        byte[] headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (headerBytes.Length + 7) / 8 * 8;
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        stream.Write(BitConverter.GetBytes((ulong)padded));
        stream.Write(headerBytes);
        stream.Write(Enumerable.Repeat((byte)' ', padded - headerBytes.Length).ToArray());
        torch.manual_seed(0);
        foreach (var (name, shape) in tensors)
        {
            using var scope = torch.NewDisposeScope();
            bool norm = name.EndsWith(".weight", StringComparison.Ordinal) && (name.Contains("ln_", StringComparison.Ordinal) || name.Contains("norm", StringComparison.Ordinal));
            bool bias = name.EndsWith("bias", StringComparison.Ordinal);
            using Scalar std = 0.02.ToScalar();
            Tensor t = norm ? torch.ones(shape) : bias ? torch.zeros(shape) : torch.randn(shape).mul(std);
            stream.Write(MemoryMarshal.AsBytes(t.contiguous().data<float>().ToArray().AsSpan()));
        }
    }
}
