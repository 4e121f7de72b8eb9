using System.CommandLine;
using System.Globalization;
using InseqBridge.Aggregation;
using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Python;
using InseqBridge.Serialization;
using InseqBridge.TorchSharp.Attribution;
using InseqBridge.Visualization;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// <c>attribute</c>: Inseq's <c>model.attribute(...)</c> from the command line, on the native backend. With
/// <c>--save</c> it writes Inseq JSON (with <c>--aggregate</c>, its default aggregation); with <c>--html</c> a page;
/// otherwise it prints a heatmap table.
/// </summary>
public static class AttributeCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        Option<string> model = CommonOptions.Model();
        var method = new Option<string>("--method") { Description = "Attribution method id (see list-methods).", DefaultValueFactory = _ => "saliency", HelpName = "ID" };
        var input = new Option<string[]>("--input") { Description = "Input text (repeat for a batch).", Required = true, HelpName = "TEXT", AllowMultipleArgumentsPerToken = false };
        var generated = new Option<string[]>("--generated") { Description = "Forced output text, one per --input (decoder-only: starts with the input).", HelpName = "TEXT" };
        var stepScores = new Option<string?>("--step-scores") { Description = "Comma-separated step score ids (see list-step-functions).", HelpName = "ID[,ID...]" };
        var attributedFn = new Option<string?>("--attributed-fn") { Description = "Step function to attribute (default: probability).", HelpName = "ID" };
        var attributeTarget = new Option<bool>("--attribute-target") { Description = "Encoder-decoders: also attribute to the target prefix." };
        var posStart = new Option<int?>("--attr-pos-start") { Description = "First attributed target position.", HelpName = "N" };
        var posEnd = new Option<int?>("--attr-pos-end") { Description = "One past the last attributed position.", HelpName = "N" };
        var maxNewTokens = new Option<int?>("--max-new-tokens") { Description = "Generation length when no --generated text is given.", HelpName = "N" };
        var nSteps = new Option<int?>("--n-steps") { Description = "Integrated gradients: interpolation steps (default 50).", HelpName = "N" };
        var internalBatchSize = new Option<int?>("--internal-batch-size") { Description = "Integrated gradients: rows per forward pass.", HelpName = "N" };
        var includeEos = new Option<bool>("--include-eos-baseline") { Description = "Use UNK at EOS positions of the baseline too." };
        var batchSize = new Option<int?>("--batch-size") { Description = "Inputs per batch (default: all).", HelpName = "N" };
        var methodArgs = new Option<string?>("--method-args") { Description = "Other method arguments, e.g. method=riemann_trapezoid.", HelpName = "K=V[,K=V...]" };
        var stepArgs = new Option<string?>("--step-scores-args") { Description = "Step score arguments, e.g. logprob=true.", HelpName = "K=V[,K=V...]" };
        var fnArgs = new Option<string?>("--attributed-fn-args") { Description = "Attributed function arguments.", HelpName = "K=V[,K=V...]" };
        var seed = new Option<long>("--seed") { Description = "Seed for sampling and stochastic methods.", DefaultValueFactory = _ => 0 };
        var aggregate = new Option<bool>("--aggregate") { Description = "Save the default aggregation instead of the raw attributions." };
        var save = new Option<string?>("--save") { Description = "Write Inseq JSON here.", HelpName = "FILE" };
        var html = new Option<string?>("--html") { Description = "Write an HTML heatmap page here.", HelpName = "FILE" };
        Option<bool> overwrite = CommonOptions.Overwrite();
        var backend = new Option<string>("--backend") { Description = "native (TorchSharp, default) or python (real Python Inseq in a worker process).", DefaultValueFactory = _ => "native", HelpName = "native|python" };
        backend.AcceptOnlyFromAmong("native", "python");
        var python = new Option<string?>("--python") { Description = "With --backend python: Python executable or libpython (default: PYTHONNET_PYDLL, conda env, python3 on PATH).", HelpName = "PATH" };
        var command = new Command("attribute", "Attribute generated (or forced) outputs to their inputs (native backend, or Python Inseq with --backend python).")
        {
            model, method, input, generated, stepScores, attributedFn, attributeTarget, posStart, posEnd, maxNewTokens, nSteps,
            internalBatchSize, includeEos, batchSize, methodArgs, stepArgs, fnArgs, seed, aggregate, save, html, overwrite, backend, python,
        };
        command.SetAction(parseResult =>
        {
            TextWriter output = parseResult.InvocationConfiguration.Output;
            string? savePath = parseResult.GetValue(save);
            string? htmlPath = parseResult.GetValue(html);
            bool replace = parseResult.GetValue(overwrite);
            foreach (string? path in new[] { savePath, htmlPath })
            {
                if (path is not null && File.Exists(path) && !replace)
                {
                    throw new OutputFileExistsException(path);
                }
            }

            var arguments = ParseKeyValues(parseResult.GetValue(methodArgs), "--method-args");
            if (parseResult.GetValue(nSteps) is int n)
            {
                arguments["n_steps"] = n.ToString(CultureInfo.InvariantCulture);
            }

            if (parseResult.GetValue(internalBatchSize) is int ibs)
            {
                arguments["internal_batch_size"] = ibs.ToString(CultureInfo.InvariantCulture);
            }

            // The Python backend accepts every Inseq method and step function id (passed through to Inseq).
            bool usePython = parseResult.GetValue(backend) == "python";
            AttributionMethod attributionMethod = usePython
                ? InseqMethod.Resolve(parseResult.GetValue(method)!, arguments)
                : AttributionMethod.FromId(parseResult.GetValue(method)!, arguments);
            var stepArguments = ParseKeyValues(parseResult.GetValue(stepArgs), "--step-scores-args");
            StepFunction Step(string id, Dictionary<string, string> args) =>
                usePython ? InseqStepFunction.Resolve(id, args) : StepFunction.FromId(id, args, StepFunctionEvaluator.CustomIds);
            var scores = (parseResult.GetValue(stepScores) ?? string.Empty)
                .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(id => Step(id, usePython ? stepArguments : ArgumentsFor(id, stepArguments)))
                .ToList();
            string? fnId = parseResult.GetValue(attributedFn);
            StepFunction? fn = fnId is null ? null : Step(fnId, ParseKeyValues(parseResult.GetValue(fnArgs), "--attributed-fn-args"));
            string[] inputs = parseResult.GetValue(input) ?? [];
            string[]? forced = parseResult.GetValue(generated) is { Length: > 0 } g ? g : null;
            var request = new AttributionRequest(inputs)
            {
                GeneratedTexts = forced,
                Method = attributionMethod,
                StepScores = scores,
                AttributedFunction = fn,
                AttributeTarget = parseResult.GetValue(attributeTarget),
                AttrPosStart = parseResult.GetValue(posStart),
                AttrPosEnd = parseResult.GetValue(posEnd),
                IncludeEosBaseline = parseResult.GetValue(includeEos),
                BatchSize = parseResult.GetValue(batchSize),
                Generation = new GenerationArguments { MaxNewTokens = parseResult.GetValue(maxNewTokens), Seed = parseResult.GetValue(seed) },
            };

            string modelDir = parseResult.GetValue(model)!;
            if (!usePython && parseResult.GetValue(python) is not null)
            {
                throw new CliUsageException("--python needs --backend python.");
            }

            // This process loads TorchSharp, so Python always runs in a worker process here.
            using IAttributionModel attributionModel = usePython
                ? PythonAttributionModel.Load(modelDir, attributionMethod, new PythonBackendOptions { Python = parseResult.GetValue(python) }, PythonCli.LoadArguments())
                : NativeAttributionModel.Load(modelDir, attributionMethod);
            FeatureAttributionOutput result = attributionModel.Attribute(request);
            FeatureAttributionOutput shown = parseResult.GetValue(aggregate) ? result.Aggregate() : result;
            if (savePath is not null)
            {
                shown.Save(savePath, new SaveOptions(Overwrite: replace));
                output.WriteLine($"wrote {savePath}");
            }

            if (htmlPath is not null)
            {
                HtmlRenderer.Save(result, htmlPath, replace);
                output.WriteLine($"wrote {htmlPath}");
            }

            if (savePath is null && htmlPath is null)
            {
                output.Write(PlainTextHeatmap.Render(result));
            }

            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Parses <c>K=V,K=V</c>.</summary>
    public static Dictionary<string, string> ParseKeyValues(string? text, string option)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string pair in (text ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new CliUsageException($"{option}: '{pair}' is not KEY=VALUE.");
            }

            result[pair[..eq].Trim()] = pair[(eq + 1)..].Trim();
        }

        return result;
    }

    private static Dictionary<string, string> ArgumentsFor(string id, Dictionary<string, string> all)
    {
        // Inseq routes step score arguments by each function's signature.
        string[] accepted = id switch
        {
            "probability" => ["logprob"],
            "top_p_size" => ["top_p"],
            _ => [],
        };
        return all.Where(kv => accepted.Contains(kv.Key)).ToDictionary();
    }
}
