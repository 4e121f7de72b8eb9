using System.CommandLine;
using System.Globalization;
using InseqBridge.Aggregation;
using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Python;
using InseqBridge.Serialization;
using InseqBridge.Native.Attribution;
using InseqBridge.Visualization;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// <c>attribute</c>: Inseq's <c>model.attribute(...)</c> from the command line, on the native backend. With
/// <c>--save</c> it writes Inseq JSON (with <c>--aggregate</c>, its default aggregation); <c>--html</c>, <c>--csv</c>
/// and <c>--scores-json</c> write views (see <see cref="ExportOptions"/>); without any file, or with <c>--show</c>,
/// it prints a heatmap. The attribution flags are shared with <c>attribute-dataset</c> (<see cref="AttributionOptions"/>).
/// </summary>
public static class AttributeCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var shared = new AttributionOptions();
        var input = new Option<string[]>("--input") { Description = "Input text (repeat for a batch).", Required = true, HelpName = "TEXT", AllowMultipleArgumentsPerToken = false };
        var generated = new Option<string[]>("--generated") { Description = "Forced output text, one per --input (decoder-only: starts with the input).", HelpName = "TEXT" };
        var save = new Option<string?>("--save") { Description = "Write Inseq JSON here.", HelpName = "FILE" };
        var saveFormat = EnumOption.Create<InseqJsonEncoding>(
            "--save-format",
            "Tensor encoding of --save: 0.7 (safetensors, current Inseq; default) or 0.6 (numpy, readable by Inseq 0.6).",
            [new("0.6", InseqJsonEncoding.Inseq06), new("0.7", InseqJsonEncoding.Inseq07)]);
        var scoresPrecision = EnumOption.Create<ScoresPrecision>(
            "--scores-precision",
            "Precision of the tensors --save stores, as Inseq's scores_precision: float32 (lossless, default), float16 or float8 (e4m3, experimental in Inseq).",
            [new("float32", ScoresPrecision.Float32), new("float16", ScoresPrecision.Float16), new("float8", ScoresPrecision.Float8)]);
        var contrastTargets = new Option<string[]>("--contrast-targets") { Description = "Contrastive target text, one per --input (decoder-only: with the prompt).", HelpName = "TEXT" };
        var contrastSources = new Option<string[]>("--contrast-sources") { Description = "Contrastive source text, one per --input (encoder-decoder).", HelpName = "TEXT" };
        var contrastAlignments = new Option<string?>("--contrast-targets-alignments") { Description = "'auto' or JSON [[orig, contrast], ...] pairs.", HelpName = "PAIRS" };
        var contrastForce = new Option<bool>("--contrast-force-inputs") { Description = "Attributed contrastive functions run on the contrastive inputs." };
        var backend = EnumOption.Create<AttributionBackend>(
            "--backend",
            "native (TorchSharp, default) or python (real Python Inseq in a worker process).",
            [new("native", AttributionBackend.Native), new("python", AttributionBackend.Python)]);
        var python = new Option<string?>("--python") { Description = "With --backend python: Python executable or libpython (default: PYTHONNET_PYDLL, conda env, python3 on PATH).", HelpName = "PATH" };
        var chat = new Option<bool>("--chat") { Description = "Render each --input as a user message through the checkpoint's chat template (assistant turn opened); --generated then gives the assistant's reply only." };
        var systemPrompt = new Option<string?>("--system-prompt") { Description = "With --chat: a system message before the user's.", HelpName = "TEXT" };
        var exports = new ExportOptions();
        var command = new Command("attribute", "Attribute generated (or forced) outputs to their inputs (native backend, or Python Inseq with --backend python).")
        {
            input, generated, save, saveFormat, scoresPrecision, contrastTargets, contrastSources, contrastAlignments, contrastForce, backend, python, chat, systemPrompt,
        };
        shared.AddTo(command);
        exports.AddTo(command);
        command.SetAction(parseResult =>
        {
            TextWriter output = parseResult.InvocationConfiguration.Output;
            string? savePath = parseResult.GetValue(save);
            bool replace = parseResult.GetValue(shared.Overwrite);
            exports.CheckTargets(parseResult, replace, savePath);
            // The Python backend accepts every Inseq method and step function id (passed through to Inseq).
            bool usePython = parseResult.GetValue(backend) == AttributionBackend.Python;
            if (!usePython && parseResult.GetValue(python) is not null)
            {
                throw new CliUsageException("--python needs --backend python.");
            }

            if (usePython && parseResult.GetValue(shared.DType) is not null)
            {
                throw new CliUsageException("--dtype applies to the native backend (Python Inseq loads the model in float32).");
            }

            AttributionMethod attributionMethod = shared.CreateMethod(parseResult, usePython ? InseqMethod.Resolve : null);
            string[] inputs = parseResult.GetValue(input) ?? [];
            string[]? forced = parseResult.GetValue(generated) is { Length: > 0 } g ? g : null;
            if (parseResult.GetValue(chat))
            {
                (inputs, forced) = ChatInputs.Render(parseResult.GetValue(shared.Model)!, inputs, forced, parseResult.GetValue(systemPrompt));
            }
            else if (parseResult.GetValue(systemPrompt) is not null)
            {
                throw new CliUsageException("--system-prompt needs --chat.");
            }
            AttributionRequest request = shared.CreateRequest(parseResult, attributionMethod, inputs, forced, usePython ? InseqStepFunction.Resolve : null);
            string[]? contrastTargetTexts = parseResult.GetValue(contrastTargets) is { Length: > 0 } ct ? ct : null;
            string[]? contrastSourceTexts = parseResult.GetValue(contrastSources) is { Length: > 0 } cs ? cs : null;
            if (contrastTargetTexts is not null || contrastSourceTexts is not null)
            {
                string? alignmentText = parseResult.GetValue(contrastAlignments);
                request = request with
                {
                    Contrast = new ContrastOptions
                    {
                        Targets = contrastTargetTexts,
                        Sources = contrastSourceTexts,
                        Alignments = alignmentText is null ? null : ContrastAlignments.Parse(alignmentText),
                        ForceInputs = parseResult.GetValue(contrastForce) || shared.ForceContrastInputs,
                    },
                };
            }


            IAggregator[]? aggregation = shared.CreateAggregation(parseResult); // bad ids fail before the model loads
            string modelDir = parseResult.GetValue(shared.Model)!;
            // This process loads TorchSharp, so Python always runs in a worker process here.
            CancellationToken cancel = CliContext.Token;
            using CliContext.Heartbeat heartbeat = CliContext.Working("loading the model");
            using IAttributionModel attributionModel = usePython
                ? PythonAttributionModel.Load(modelDir, attributionMethod, new PythonBackendOptions { Python = parseResult.GetValue(python) }, PythonCli.LoadArguments())
                : NativeAttributionModel.Load(modelDir, attributionMethod, tokenizer: CommonOptions.TokenizerKindOf(parseResult.GetValue(shared.Tokenizer)),
                    dtype: CommonOptions.ParseDType(parseResult.GetValue(shared.DType)));
            cancel.ThrowIfCancellationRequested();
            heartbeat.Report($"attributing {inputs.Length} input(s) with {attributionMethod.Id}");
            var progress = new Progress<AttributionProgress>(p => heartbeat.Report($"attributing: {p.Completed}/{p.Total} inputs done"));
            FeatureAttributionOutput result = attributionModel.AttributeAsync(request, progress, cancel).GetAwaiter().GetResult();
            heartbeat.Dispose();
            FeatureAttributionOutput shown = aggregation is not null ? result.Aggregate(aggregation) : result;
            if (savePath is not null)
            {
                InseqJsonEncoding encoding = parseResult.GetValue(saveFormat) ?? InseqJsonEncoding.Inseq07;
                ScoresPrecision precision = parseResult.GetValue(scoresPrecision) ?? ScoresPrecision.Float32;
                shown.Save(savePath, new SaveOptions(Overwrite: replace, ScoresPrecision: precision, Encoding: encoding));
                output.WriteLine($"wrote {TerminalText.Escape(savePath)}");
            }

            exports.Write(parseResult, result, output, replace, forceAggregation: false, fileWritten: savePath is not null);
            return ExitCodes.Success;
        });
        return command;
    }
}
