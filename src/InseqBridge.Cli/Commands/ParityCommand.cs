using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using InseqBridge.Tokenizers;
using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Parity;
using InseqBridge.Python;
using InseqBridge.Serialization;
using InseqBridge.Native.Attribution;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// <c>parity</c>: runs attribution cases through the native backend and compares each result with real Python Inseq,
/// live (in a worker process) or from saved Inseq JSON files (<c>--reference</c>). Prints one row per case (case, max
/// absolute diff, max relative diff, tolerance, verdict); exits 1 when any case violates the tolerance or fails.
/// </summary>
public static class ParityCommand
{
    /// <summary>Methods compared when <c>--methods</c> is not given (those the native backend implements).</summary>
    public static IReadOnlyList<string> DefaultMethods { get; } = ["saliency", "input_x_gradient", "integrated_gradients", "attention"];

    // Sequence scores the native backend does not produce (none today; kept so a future gap is reported, not failed).
    private static readonly string[] KnownNativeGaps = [];

    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        Option<string> model = CommonOptions.Model();
        Option<TokenizerKind?> tokenizer = CommonOptions.Tokenizer();
        var methods = new Option<string?>("--methods")
        {
            Description = $"Comma-separated method ids (default: every method of --cases, else {string.Join(",", DefaultMethods)}).",
            HelpName = "ID[,ID...]",
        };
        var cases = new Option<string?>("--cases")
        {
            Description = "JSON file of cases: a list (or {\"cases\": [...]}, e.g. a parity manifest) of {\"id\", \"method\", \"attribute\": {model.attribute kwargs}, \"model\"?}. " +
                          "Cases naming another model (by folder name) are left out. Default: built-in generated and forced cases per method.",
            HelpName = "FILE",
        };
        var python = new Option<string?>("--python") { Description = "Python executable or libpython for live Python Inseq (default: discovered).", HelpName = "PATH" };
        var reference = new Option<string?>("--reference") { Description = "Folder of saved Inseq JSON files (<case id>.json) to compare with instead of running Python.", HelpName = "DIR" };
        var command = new Command("parity", "Compare the native backend with Python Inseq (live or saved outputs) case by case.")
        {
            model, methods, cases, python, reference, tokenizer,
        };
        command.SetAction(parseResult =>
        {
            TextWriter output = parseResult.InvocationConfiguration.Output;
            string modelDir = Path.GetFullPath(parseResult.GetValue(model)!);
            if (!Directory.Exists(modelDir))
            {
                throw new DirectoryNotFoundException($"Model folder not found: {modelDir}");
            }

            string modelName = Path.GetFileName(modelDir.TrimEnd(Path.DirectorySeparatorChar));
            string? casesFile = parseResult.GetValue(cases);
            List<string>? methodIds = parseResult.GetValue(methods)?
                .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
            string? referenceDir = parseResult.GetValue(reference);
            if (referenceDir is not null && !Directory.Exists(referenceDir))
            {
                throw new DirectoryNotFoundException($"Reference folder not found: {referenceDir}");
            }

            using NativeAttributionModel native = NativeAttributionModel.Load(modelDir, tokenizer: CommonOptions.TokenizerKindOf(parseResult.GetValue(tokenizer)));
            List<ParityCase> list = casesFile is null
                ? DefaultCases(modelName, native.IsEncoderDecoder, methodIds ?? DefaultMethods)
                : ReadCases(casesFile, modelName, methodIds);
            if (list.Count == 0)
            {
                throw new CliUsageException($"No case to run for model '{modelName}'{(methodIds is null ? string.Empty : $" and methods {string.Join(",", methodIds)}")}.");
            }

            using var live = referenceDir is null ? new LiveReference(modelDir, parseResult.GetValue(python)) : null;
            var rows = new List<string[]>();
            var details = new List<string>();
            int violations = 0, compared = 0;
            bool ignoredGap = false;
            using CliContext.Heartbeat heartbeat = CliContext.Working("parity");
            foreach (ParityCase c in list)
            {
                CliContext.Token.ThrowIfCancellationRequested(); // Ctrl+C stops between cases
                heartbeat.Report($"case {c.Id}");
                ParityTolerance tolerance = ParityTolerance.For(c.Method, native.IsEncoderDecoder);
                if (!AttributionMethod.KnownIds.Contains(c.Method))
                {
                    rows.Add([c.Id, "-", "-", tolerance.ToString(), $"skipped (the native backend has no method '{c.Method}')"]);
                    continue;
                }

                try
                {
                    AttributionRequest request = InseqCallArguments.Parse(c.Method, c.Attribute);
                    FeatureAttributionOutput expected = referenceDir is not null
                        ? InseqJson.Load(ReferencePath(referenceDir, c))
                        : live!.Attribute(c.Method, request);
                    if (c.Method is "layer_integrated_gradients" or "layer_deeplift" && AllZero(expected))
                    {
                        rows.Add([c.Id, "-", "-", tolerance.ToString(), "skipped (Inseq 0.6 returns all zeros for this layer method; compare the non-layer method instead)"]);
                        continue;
                    }

                    FeatureAttributionOutput actual = native.Attribute(request);
                    ParityResult result = ParityComparer.Compare(expected, actual, tolerance, KnownNativeGaps);
                    ignoredGap |= expected.SequenceAttributions.Any(s => KnownNativeGaps.Any(s.SequenceScores.ContainsKey))
                        && !actual.SequenceAttributions.Any(s => KnownNativeGaps.Any(s.SequenceScores.ContainsKey));
                    compared++;
                    if (!result.Passed)
                    {
                        violations++;
                        details.AddRange(result.Violations.Select(v => $"{c.Id}: {v}"));
                    }

                    rows.Add([c.Id, Format(result.MaxAbsoluteDifference), Format(result.MaxRelativeDifference), tolerance.ToString(), result.Passed ? "ok" : "VIOLATION"]);
                }
                catch (Exception e) when (e is InseqBridge.Errors.InseqBridgeException or InseqJsonException or IOException)
                {
                    if (e is PythonEnvironmentException)
                    {
                        throw;
                    }

                    violations++;
                    string first = e.Message.Split('\n')[0];
                    details.Add($"{c.Id}: {e.GetType().Name}: {first}");
                    rows.Add([c.Id, "-", "-", tolerance.ToString(), "ERROR"]);
                }
            }

            WriteTable(output, ["case", "max abs diff", "max rel diff", "tolerance", "verdict"], rows);
            foreach (string line in details)
            {
                output.WriteLine(line);
            }

            if (ignoredGap)
            {
                output.WriteLine($"note: {string.Join(", ", KnownNativeGaps)} is not produced by the native backend and was not compared.");
            }

            int ok = rows.Count(r => r[4] == "ok"), failed = rows.Count(r => r[4] is "VIOLATION" or "ERROR");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{rows.Count} case(s): {ok} within tolerance, {failed} violation(s) or error(s), {rows.Count - ok - failed} skipped; reference: {(referenceDir is null ? "live Python Inseq" : referenceDir)}"));
            if (compared == 0)
            {
                output.WriteLine("no case was compared.");
                return ExitCodes.Failure;
            }

            return violations > 0 ? ExitCodes.Failure : ExitCodes.Success;
        });
        return command;
    }

    /// <summary>One case: an id, a method id and the keyword arguments of <c>model.attribute</c>.</summary>
    private sealed record ParityCase(string Id, string Method, JsonObject Attribute, string? OutputFile);

    private static List<ParityCase> DefaultCases(string modelName, bool encoderDecoder, IReadOnlyList<string> methods)
    {
        string[] inputs = ["Hello world, this is a short test.", "The cat sat on the mat."];
        string[] forced = encoderDecoder
            ? ["A short target text.", "Another target."]
            : [inputs[0] + " And then some more words.", inputs[1] + " It was warm."];
        var list = new List<ParityCase>();
        foreach (string method in methods)
        {
            JsonArray scores = method is "attention" or "value_zeroing" ? [] : ["probability"];
            JsonObject Extra(JsonObject o)
            {
                if (method is "integrated_gradients" or "layer_integrated_gradients" or "sequential_integrated_gradients")
                {
                    o["n_steps"] = 10;
                }

                return o;
            }

            list.Add(new($"{modelName}__{method}__generated", method, Extra(new JsonObject
            {
                ["input_texts"] = new JsonArray([.. inputs.Select(t => (JsonNode?)t)]),
                ["step_scores"] = scores.DeepClone(),
                ["generation_args"] = new JsonObject { ["max_new_tokens"] = 4, ["do_sample"] = false },
            }), null));
            list.Add(new($"{modelName}__{method}__forced", method, Extra(new JsonObject
            {
                ["input_texts"] = new JsonArray([.. inputs.Select(t => (JsonNode?)t)]),
                ["generated_texts"] = new JsonArray([.. forced.Select(t => (JsonNode?)t)]),
                ["step_scores"] = scores.DeepClone(),
            }), null));
        }

        return list;
    }

    private static List<ParityCase> ReadCases(string file, string modelName, IReadOnlyList<string>? methods)
    {
        JsonNode? root = JsonNode.Parse(File.ReadAllText(file));
        JsonArray array = root switch
        {
            JsonArray a => a,
            JsonObject o when o["cases"] is JsonArray a => a,
            _ => throw new CliUsageException($"{file}: expected a JSON list of cases or an object with \"cases\"."),
        };
        var list = new List<ParityCase>();
        int index = 0;
        foreach (JsonNode? node in array)
        {
            index++;
            if (node is not JsonObject c)
            {
                throw new CliUsageException($"{file}: case {index} is not an object.");
            }

            if (c["ok"] is JsonValue ok && !ok.GetValue<bool>())
            {
                continue; // the reference itself failed on this call
            }

            if (c["model"]?.GetValue<string>() is { } caseModel && caseModel != modelName)
            {
                continue;
            }

            string method = c["method"]?.GetValue<string>() ?? c["load_model"]?["attribution_method"]?.GetValue<string>()
                ?? throw new CliUsageException($"{file}: case {index} has no \"method\".");
            if (methods is not null && !methods.Contains(method))
            {
                continue;
            }

            var attribute = c["attribute"] as JsonObject ?? throw new CliUsageException($"{file}: case {index} has no \"attribute\" object.");
            string id = c["id"]?.GetValue<string>() ?? $"{modelName}__{method}__{index}";
            list.Add(new ParityCase(id, method, (JsonObject)attribute.DeepClone(), c["output_file"]?.GetValue<string>()));
        }

        return list;
    }

    /// <summary>
    /// True when every attribution of <paramref name="output"/> is zero: what Inseq 0.6 returns for layer integrated
    /// gradients and layer DeepLIFT on the embedding layer (its baseline activations come from the real input ids), so
    /// such a reference cannot judge the native values.
    /// </summary>
    private static bool AllZero(FeatureAttributionOutput output) =>
        output.SequenceAttributions.All(s => new[] { s.SourceAttributions, s.TargetAttributions }
            .All(a => a is null || a.ToArray().All(v => v == 0 || float.IsNaN(v))));

    private static string ReferencePath(string directory, ParityCase c)
    {
        string byId = Path.Combine(directory, c.Id + ".json");
        if (File.Exists(byId) || c.OutputFile is null)
        {
            return byId;
        }

        return Path.Combine(directory, Path.GetFileName(c.OutputFile));
    }

    private static string Format(double value) => value.ToString("E2", CultureInfo.InvariantCulture);

    private static void WriteTable(TextWriter output, string[] header, List<string[]> rows)
    {
        int[] widths = [.. header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length)))];
        string Line(string[] cells) => string.Join("  ", cells.Select((c, i) => i == cells.Length - 1 ? c : c.PadRight(widths[i]))).TrimEnd();
        output.WriteLine(Line(header));
        output.WriteLine(Line([.. widths.Select(w => new string('-', w))]));
        foreach (string[] row in rows)
        {
            output.WriteLine(Line(row));
        }
    }

    /// <summary>Live Python Inseq in a worker process: one model per method, loaded on first use.</summary>
    private sealed class LiveReference(string modelDir, string? python) : IDisposable
    {
        private readonly Dictionary<string, PythonAttributionModel> _models = [];
        private PythonBackend? _backend;

        public FeatureAttributionOutput Attribute(string method, AttributionRequest request)
        {
            _backend ??= PythonBackend.Start(new PythonBackendOptions { Python = python, Execution = PythonExecution.Worker });
            if (!_models.TryGetValue(method, out PythonAttributionModel? model))
            {
                model = _backend.LoadModel(modelDir, InseqMethod.Resolve(method), PythonCli.LoadArguments());
                _models[method] = model;
            }

            return model.Attribute(request);
        }

        public void Dispose()
        {
            foreach (PythonAttributionModel model in _models.Values)
            {
                model.Dispose();
            }

            _backend?.Dispose();
        }
    }
}

/// <summary>Python backend settings shared by the CLI commands.</summary>
public static class PythonCli
{
    /// <summary>
    /// <c>inseq.load_model</c> keyword arguments: slow (Python) tokenizers, the same algorithms the native backend
    /// implements, and the only ones available where the Rust <c>tokenizers</c> package is absent.
    /// </summary>
    public static JsonObject LoadArguments() => new() { ["tokenizer_kwargs"] = new JsonObject { ["use_fast"] = false } };
}
