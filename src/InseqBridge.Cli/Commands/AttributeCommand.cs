using System.CommandLine;
using System.Globalization;
using InseqBridge.Aggregation;
using InseqBridge.Attribution;
using InseqBridge.Data;
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
        var contrastTargets = new Option<string[]>("--contrast-targets") { Description = "Contrastive target text, one per --input (decoder-only: with the prompt).", HelpName = "TEXT" };
        var contrastSources = new Option<string[]>("--contrast-sources") { Description = "Contrastive source text, one per --input (encoder-decoder).", HelpName = "TEXT" };
        var contrastAlignments = new Option<string?>("--contrast-targets-alignments") { Description = "'auto' or JSON [[orig, contrast], ...] pairs.", HelpName = "PAIRS" };
        var contrastForce = new Option<bool>("--contrast-force-inputs") { Description = "Attributed contrastive functions run on the contrastive inputs." };
        var aggregate = new Option<bool>("--aggregate") { Description = "Save the default aggregation instead of the raw attributions." };
        var save = new Option<string?>("--save") { Description = "Write Inseq JSON here.", HelpName = "FILE" };
        var saveFormat = new Option<string>("--save-format")
        {
            Description = "Tensor encoding of --save: 0.7 (safetensors, current Inseq) or 0.6 (numpy, readable by Inseq 0.6).",
            DefaultValueFactory = _ => "0.7",
            HelpName = "0.6|0.7",
        };
        saveFormat.AcceptOnlyFromAmong("0.6", "0.7");
        var html = new Option<string?>("--html") { Description = "Write an HTML heatmap page here.", HelpName = "FILE" };
        Option<bool> overwrite = CommonOptions.Overwrite();
        var command = new Command("attribute", "Attribute generated (or forced) outputs to their inputs (native backend).")
        {
            model, method, input, generated, stepScores, attributedFn, attributeTarget, posStart, posEnd, maxNewTokens, nSteps,
            internalBatchSize, includeEos, batchSize, methodArgs, stepArgs, fnArgs, seed, contrastTargets, contrastSources,
            contrastAlignments, contrastForce, aggregate, save, saveFormat, html, overwrite,
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

            AttributionMethod attributionMethod = AttributionMethod.FromId(parseResult.GetValue(method)!, arguments);
            var stepArguments = ParseKeyValues(parseResult.GetValue(stepArgs), "--step-scores-args");
            var fnArguments = ParseKeyValues(parseResult.GetValue(fnArgs), "--attributed-fn-args");
            bool forceContrast = parseResult.GetValue(contrastForce) | TakeFlag(stepArguments, "contrast_force_inputs") | TakeFlag(fnArguments, "contrast_force_inputs");
            string[] scoreIds = (parseResult.GetValue(stepScores) ?? string.Empty)
                .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            string? unknown = stepArguments.Keys.FirstOrDefault(k => !scoreIds.Any(id => AcceptedArguments(id).Contains(k)));
            if (unknown is not null && scoreIds.All(id => !StepFunctionEvaluator.CustomIds.Contains(id)))
            {
                throw new CliUsageException($"--step-scores-args: no selected step score takes '{unknown}'.");
            }

            var scores = scoreIds
                .Select(id => StepFunction.FromId(id, ArgumentsFor(id, stepArguments), StepFunctionEvaluator.CustomIds))
                .ToList();
            string? fnId = parseResult.GetValue(attributedFn);
            StepFunction? fn = fnId is null ? null : StepFunction.FromId(fnId, fnArguments, StepFunctionEvaluator.CustomIds);
            string[]? contrastTargetTexts = parseResult.GetValue(contrastTargets) is { Length: > 0 } ct ? ct : null;
            string[]? contrastSourceTexts = parseResult.GetValue(contrastSources) is { Length: > 0 } cs ? cs : null;
            string? alignmentText = parseResult.GetValue(contrastAlignments);
            ContrastOptions? contrast = contrastTargetTexts is null && contrastSourceTexts is null ? null : new ContrastOptions
            {
                Targets = contrastTargetTexts,
                Sources = contrastSourceTexts,
                Alignments = alignmentText is null ? null : ContrastAlignments.Parse(alignmentText),
                ForceInputs = forceContrast,
            };
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
                Contrast = contrast,
            };

            string modelDir = parseResult.GetValue(model)!;
            using NativeAttributionModel native = NativeAttributionModel.Load(modelDir, attributionMethod);
            FeatureAttributionOutput result = native.Attribute(request);
            FeatureAttributionOutput shown = parseResult.GetValue(aggregate) ? result.Aggregate() : result;
            if (savePath is not null)
            {
                var encoding = parseResult.GetValue(saveFormat) == "0.6" ? InseqJsonEncoding.Inseq06 : InseqJsonEncoding.Inseq07;
                shown.Save(savePath, new SaveOptions(Overwrite: replace, Encoding: encoding));
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

    /// <summary>Removes a boolean K=V entry (e.g. <c>contrast_force_inputs=true</c>) and returns its value.</summary>
    private static bool TakeFlag(Dictionary<string, string> arguments, string key)
    {
        if (!arguments.Remove(key, out string? value))
        {
            return false;
        }

        return bool.TryParse(value, out bool flag) ? flag : throw new CliUsageException($"{key} must be true or false (got '{value}').");
    }

    /// <summary>The arguments a built-in step function takes (Inseq routes step score arguments by signature).</summary>
    private static string[] AcceptedArguments(string id) => id switch
    {
        "probability" or "contrast_prob" or "contrast_prob_diff" => ["logprob"],
        "top_p_size" => ["top_p"],
        "kl_divergence" => ["top_k", "top_p", "min_tokens_to_keep"],
        _ => [],
    };

    private static Dictionary<string, string> ArgumentsFor(string id, Dictionary<string, string> all)
    {
        string[] accepted = AcceptedArguments(id);
        return StepFunctionEvaluator.CustomIds.Contains(id) ? all : all.Where(kv => accepted.Contains(kv.Key)).ToDictionary();
    }
}
