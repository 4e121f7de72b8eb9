using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using InseqBridge.Attribution;
using InseqBridge.Attribution.Context;
using InseqBridge.Cli.Rendering;
using InseqBridge.Serialization;
using InseqBridge.Tokenizers;
using InseqBridge.Native.Attribution;
using InseqBridge.Visualization;
using Spectre.Console;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// <c>attribute-context</c>: Inseq's <c>inseq attribute-context</c> (PECoRe) on the native backend. Finds the
/// context-sensitive tokens of the output (CTI) and the context tokens that drove them (CCI); <c>--save</c> writes
/// Inseq's JSON, <c>--html</c> the report page, and the report is printed when no file is written or with
/// <c>--show</c>. Option names are Inseq's with dashes; list options repeat their flag once per item.
/// </summary>
public static class AttributeContextCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var shared = new AttributionOptions();
        Option<string?> Text(string name, string description) => new(name) { Description = description, HelpName = "TEXT" };
        var inputCurrent = new Option<string>("--input-current-text") { Description = "Input text ({current} of --input-template): the prompt (decoder-only) or the source text (encoder-decoder).", Required = true, HelpName = "TEXT" };
        var inputContext = Text("--input-context-text", "Input context ({context} of --input-template).");
        var inputTemplate = new Option<string?>("--input-template") { Description = "Template of the input (default '{context} {current}' with an input context, else '{current}').", HelpName = "TEMPLATE" };
        var outputContext = Text("--output-context-text", "Output context ({context} of --output-template): target prefix (encoder-decoder) or part of the generation (decoder-only).");
        var outputCurrent = Text("--output-current-text", "Output to test for context sensitivity, force-decoded (default: generated).");
        var outputTemplate = new Option<string?>("--output-template") { Description = "Template of the output (default '{context} {current}' with an output context, else '{current}').", HelpName = "TEMPLATE" };
        var ctxlessInput = new Option<string?>("--contextless-input-current-text") { Description = "Contextless input template with {current} (default '{current}').", HelpName = "TEMPLATE" };
        var ctxlessOutput = new Option<string?>("--contextless-output-current-text") { Description = "Contextless output template with {current} (default '{current}').", HelpName = "TEMPLATE" };
        var metric = new Option<string>("--context-sensitivity-metric")
        {
            Description = "Contrastive step function scoring context sensitivity.",
            DefaultValueFactory = _ => "kl_divergence",
            HelpName = string.Join("|", ContextArguments.ContrastiveIds),
        };
        metric.AcceptOnlyFromAmong([.. ContextArguments.ContrastiveIds]);
        var strategy = new Option<string>("--handle-output-context-strategy")
        {
            Description = "When the output context is generated with the output: manual (ask on the terminal), auto (use the split found), pre (require --output-context-text).",
            DefaultValueFactory = _ => "manual",
            HelpName = "manual|auto|pre",
        };
        strategy.AcceptOnlyFromAmong("manual", "auto", "pre");
        var nextTokens = new Option<string[]>("--contextless-output-next-tokens") { Description = "Forced contextless next token, one per context-sensitive token (repeat the flag).", HelpName = "TOKEN", AllowMultipleArgumentsPerToken = false };
        var promptNext = new Option<bool>("--prompt-user-for-contextless-output-next-tokens") { Description = "Ask on the terminal for each contextless next token." };
        var keep = new Option<string[]>("--special-tokens-to-keep") { Description = "Special token kept in texts and tokens (repeat the flag).", HelpName = "TOKEN", AllowMultipleArgumentsPerToken = false };
        var separator = new Option<string>("--decoder-input-output-separator") { Description = "Separator between input and output of decoder-only models.", DefaultValueFactory = _ => " ", HelpName = "TEXT" };
        var ctiStd = new Option<double>("--context-sensitivity-std-threshold") { Description = "Standard deviations above the mean a CTI score needs (0: the mean).", DefaultValueFactory = _ => 1.0, HelpName = "X" };
        var ctiTopK = new Option<int?>("--context-sensitivity-topk") { Description = "Keep at most K context-sensitive tokens.", HelpName = "K" };
        var cciStd = new Option<double>("--attribution-std-threshold") { Description = "Standard deviations above the mean a CCI score needs to be cited.", DefaultValueFactory = _ => 1.0, HelpName = "X" };
        var cciTopK = new Option<int?>("--attribution-topk") { Description = "Cite at most K context tokens.", HelpName = "K" };
        var method = new Option<string>("--attribution-method") { Description = "Attribution method for CCI (see list-methods).", DefaultValueFactory = _ => "saliency", HelpName = "ID" };
        var attributionKwargs = new Option<string?>("--attribution-kwargs") { Description = "Method and attributed function arguments as a JSON object, e.g. '{\"n_steps\": 20}'.", HelpName = "JSON" };
        var tokenizerKwargs = new Option<string?>("--tokenizer-kwargs") { Description = "Tokenizer arguments as a JSON object; supported: use_fast.", HelpName = "JSON" };
        var normalize = new Option<bool>("--normalize-attributions") { Description = "Normalize the aggregated CCI scores." };
        var noInfo = new Option<bool>("--no-add-output-info") { Description = "Do not record the arguments (info) in the saved output." };
        var save = new Option<string?>("--save") { Description = "Write Inseq's attribute-context JSON here.", HelpName = "FILE" };
        var html = new Option<string?>("--html") { Description = "Write the report as a self-contained HTML page here.", HelpName = "FILE" };
        var show = new Option<bool>("--show") { Description = "Print the report even when files are written." };
        var intermediate = new Option<bool>("--show-intermediate-outputs") { Description = "Print the CTI and CCI attributions as they are computed." };
        foreach (var option in new[] { ctiTopK, cciTopK })
        {
            option.Validators.Add(r =>
            {
                try
                {
                    if (r.GetValueOrDefault<int?>() is int k && k < 0)
                    {
                        r.AddError($"{option.Name} must be 0 or more; got {k}.");
                    }
                }
                catch (InvalidOperationException)
                {
                    // not a number: the parser reports it
                }
            });
        }

        var command = new Command("attribute-context", "Find context-sensitive output tokens and the context tokens behind them (PECoRe, Inseq's attribute-context; native backend).")
        {
            shared.Model, inputCurrent, inputContext, inputTemplate, outputContext, outputCurrent, outputTemplate, ctxlessInput, ctxlessOutput, metric,
            strategy, nextTokens, keep, separator, ctiStd, ctiTopK, cciStd, cciTopK, shared.AttributedFn, method, attributionKwargs,
            shared.GenerationKwargs, tokenizerKwargs, normalize, noInfo, save, html, show, intermediate, promptNext, shared.Overwrite,
        };
        command.SetAction(parseResult =>
        {
            TextWriter output = parseResult.InvocationConfiguration.Output;
            bool replace = parseResult.GetValue(shared.Overwrite);
            string? savePath = parseResult.GetValue(save);
            string? htmlPath = parseResult.GetValue(html);
            var targets = new List<(string, string)>();
            if (savePath is not null)
            {
                targets.Add(("--save", savePath));
            }

            if (htmlPath is not null)
            {
                targets.Add(("--html", htmlPath));
            }

            OutputTargets.Check(targets, replace);
            string modelDir = parseResult.GetValue(shared.Model)!;
            JsonObject generationJson = JsonOption(parseResult.GetValue(shared.GenerationKwargs), "--generation-kwargs");
            GenerationArguments generation = GenerationArguments.FromJson(generationJson);
            JsonObject tokenizerJson = JsonOption(parseResult.GetValue(tokenizerKwargs), "--tokenizer-kwargs");
            TokenizerKind tokenizer = TokenizerFrom(tokenizerJson);
            JsonObject attributionJson = JsonOption(parseResult.GetValue(attributionKwargs), "--attribution-kwargs");
            var attributionArgs = attributionJson.ToDictionary(kv => kv.Key, kv => Scalar(kv.Value));
            string methodId = parseResult.GetValue(method)!;
            AttributionMethod attributionMethod = AttributionMethod.FromId(methodId, attributionArgs.Where(kv => !IsFnArgument(parseResult.GetValue(shared.AttributedFn), kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value));
            if (parseResult.GetValue(shared.AttributedFn) is string fn)
            {
                StepFunction.FromId(fn, StepFunction.RouteArguments(fn, attributionArgs)); // unknown ids fail before the model loads
            }

            OutputContextStrategy outputStrategy = parseResult.GetValue(strategy) switch
            {
                "auto" => OutputContextStrategy.Auto,
                "pre" => OutputContextStrategy.Pre,
                _ => OutputContextStrategy.Manual,
            };
            bool interactive = !Console.IsInputRedirected && ReferenceEquals(output, Console.Out);
            bool showIntermediate = parseResult.GetValue(intermediate);
            var request = new AttributeContextRequest(parseResult.GetValue(inputCurrent)!)
            {
                InputContextText = parseResult.GetValue(inputContext),
                InputTemplate = parseResult.GetValue(inputTemplate),
                OutputContextText = parseResult.GetValue(outputContext),
                OutputCurrentText = parseResult.GetValue(outputCurrent),
                OutputTemplate = parseResult.GetValue(outputTemplate),
                ContextlessInputCurrentText = parseResult.GetValue(ctxlessInput),
                ContextlessOutputCurrentText = parseResult.GetValue(ctxlessOutput),
                ModelNameOrPath = modelDir,
                Options = new AttributeContextOptions
                {
                    ContextSensitivityMetric = parseResult.GetValue(metric)!,
                    HandleOutputContextStrategy = outputStrategy,
                    ContextlessOutputNextTokens = parseResult.GetValue(nextTokens) ?? [],
                    PromptUserForContextlessOutputNextTokens = parseResult.GetValue(promptNext),
                    SpecialTokensToKeep = parseResult.GetValue(keep) ?? [],
                    DecoderInputOutputSeparator = parseResult.GetValue(separator)!,
                    ContextSensitivityStdThreshold = parseResult.GetValue(ctiStd),
                    ContextSensitivityTopK = parseResult.GetValue(ctiTopK),
                    AttributionStdThreshold = parseResult.GetValue(cciStd),
                    AttributionTopK = parseResult.GetValue(cciTopK),
                    AttributedFn = parseResult.GetValue(shared.AttributedFn),
                    AttributionMethod = methodId,
                    AttributionKwargs = attributionArgs,
                    Generation = generation,
                    NormalizeAttributions = parseResult.GetValue(normalize),
                    AddOutputInfo = !parseResult.GetValue(noInfo),
                    AskContextlessNextToken = interactive ? AskNextToken : null,
                },
                AskOutputContext = interactive ? AskOutputContext : null, // auto asks too when no split is found, as Inseq
                IntermediateOutputs = showIntermediate ? (phase, result) =>
                {
                    output.WriteLine(phase == "cti" ? "Context-sensitive token identification (CTI):" : "Contextual cues imputation (CCI):");
                    ConsoleHeatmap.Write(output, HeatmapBuilder.Build(result, false), plain: false);
                }
                : null,
                ExtraInfo = new JsonObject
                {
                    ["show_intermediate_outputs"] = showIntermediate,
                    ["save_path"] = savePath,
                    ["viz_path"] = htmlPath,
                    ["show_viz"] = (savePath is null && htmlPath is null) || parseResult.GetValue(show),
                    ["tokenizer_kwargs"] = tokenizerJson.DeepClone(),
                    ["generation_kwargs"] = generationJson.DeepClone(),
                    ["attribution_kwargs"] = attributionJson.DeepClone(),
                },
            };
            ContextArguments resolved = ContextArguments.Resolve(request); // template errors before the model loads
            foreach (string warning in resolved.Warnings)
            {
                parseResult.InvocationConfiguration.Error.WriteLine($"warning: {TerminalText.Escape(warning)}");
            }

            if (request.Options.PromptUserForContextlessOutputNextTokens && !interactive)
            {
                throw new CliUsageException("--prompt-user-for-contextless-output-next-tokens needs an interactive terminal; pass --contextless-output-next-tokens instead.");
            }

            CancellationToken cancel = CliContext.Token;
            using CliContext.Heartbeat heartbeat = CliContext.Working("loading the model");
            using NativeAttributionModel native = NativeAttributionModel.Load(modelDir, attributionMethod, tokenizer: tokenizer);
            cancel.ThrowIfCancellationRequested();
            var model = new NativeContextModel(native);
            heartbeat.Report("attributing context");
            var progress = new Progress<AttributeContextProgress>(p => heartbeat.Report(p.Phase == "cci" ? $"attributing context: {p.Completed}/{p.Total} context-sensitive tokens done" : $"attributing context: {p.Phase}"));
            AttributeContextOutput result = model.AttributeContextAsync(request, progress, cancel).GetAwaiter().GetResult();
            heartbeat.Dispose();
            if (savePath is not null)
            {
                AttributeContextJson.Save(result, savePath, replace);
                output.WriteLine($"wrote {TerminalText.Escape(savePath)}");
            }

            bool printReport = (savePath is null && htmlPath is null) || parseResult.GetValue(show);
            if (htmlPath is not null || printReport)
            {
                // The report needs the arguments even when --no-add-output-info leaves them out of the file.
                var viewed = result.Info is null
                    ? result with { Info = resolved.ToInfo(modelDir, result.OutputContext, result.OutputCurrent) }
                    : result;
                IReadOnlyList<ContextSpan> spans = ContextAttributionView.Build(viewed);
                if (htmlPath is not null)
                {
                    OutputFile.WriteAllText(htmlPath, ContextAttributionView.RenderHtml(spans), replace);
                    output.WriteLine($"wrote {TerminalText.Escape(htmlPath)}");
                }

                if (printReport)
                {
                    WriteReport(output, spans);
                }
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static bool IsFnArgument(string? fn, string key) => fn is not null && StepFunction.ArgumentNames(fn).Contains(key);

    /// <summary>Parses a JSON object option (Inseq's <c>*_kwargs</c>); absent: empty.</summary>
    internal static JsonObject JsonOption(string? text, string option)
    {
        if (text is null)
        {
            return [];
        }

        try
        {
            return JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = 16 }) as JsonObject
                ?? throw new CliUsageException($"{option} must be a JSON object, e.g. '{{\"key\": 1}}'.");
        }
        catch (JsonException)
        {
            throw new CliUsageException($"{option} is not valid JSON; give an object such as '{{\"key\": 1}}'.");
        }
    }

    private static TokenizerKind TokenizerFrom(JsonObject kwargs)
    {
        var unknown = kwargs.Select(kv => kv.Key).Where(k => k != "use_fast").ToList();
        if (unknown.Count > 0)
        {
            throw new CliUsageException($"--tokenizer-kwargs: unsupported argument(s) {string.Join(", ", unknown)}; supported: use_fast.");
        }

        return kwargs["use_fast"] switch
        {
            null => TokenizerKind.Auto,
            JsonValue v when v.GetValueKind() is JsonValueKind.True => TokenizerKind.Fast,
            JsonValue v when v.GetValueKind() is JsonValueKind.False => TokenizerKind.Slow,
            _ => throw new CliUsageException("--tokenizer-kwargs: use_fast must be true or false."),
        };
    }

    private static string Scalar(JsonNode? node) => node switch
    {
        null => "None",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>() ? "true" : "false",
        _ => node.ToJsonString(),
    };

    private static string AskOutputContext(OutputContextQuestion question)
    {
        Console.WriteLine($"The model generated: \"{TerminalText.Escape(question.GeneratedOutput)}\"");
        if (question.Candidate is not null)
        {
            Console.Write($"Is \"{TerminalText.Escape(question.Candidate)}\" the context to attribute? [y/n]: ");
            string? answer = Console.ReadLine()?.Trim().ToLowerInvariant();
            if (answer is "y" or "yes")
            {
                return question.Candidate;
            }
        }

        while (true)
        {
            Console.Write("Enter the part of the generated output that is the context: ");
            string context = Console.ReadLine() ?? throw new CliUsageException("no output context given (end of input); pass --output-context-text.");
            if (question.GeneratedOutput.StartsWith(context, StringComparison.Ordinal))
            {
                return context;
            }

            Console.WriteLine("That is not the start of the generated output; try again.");
        }
    }

    private static string? AskNextToken(string contextualPrefix, string token)
    {
        Console.WriteLine($"Contextual prefix: \"{TerminalText.Escape(contextualPrefix)}\"");
        Console.Write($"The token \"{TerminalText.Escape(ContextAttributionView.Readable([token])[0])}\" is produced with context. Word to compare with (empty: the model's own): ");
        string? word = Console.ReadLine();
        return string.IsNullOrWhiteSpace(word) ? null : word;
    }

    /// <summary>Prints the report: colours on a terminal, plain text otherwise.</summary>
    private static void WriteReport(TextWriter output, IReadOnlyList<ContextSpan> spans)
    {
        bool terminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        if (!terminal)
        {
            output.Write(TerminalTextBlock(ContextAttributionView.RenderPlain(spans)));
            return;
        }

        var markup = new System.Text.StringBuilder();
        foreach (ContextSpan span in spans)
        {
            string text = Markup.Escape(TerminalTextBlock(span.Text));
            markup.Append(span.Style switch
            {
                ContextSpanStyle.Label => $"[bold]{text}[/]",
                ContextSpanStyle.Cue => $"[bold green]{text}[/]",
                ContextSpanStyle.Sensitive => $"[bold dodgerblue1]{text}[/]",
                _ => text,
            });
        }

        AnsiConsole.Markup(markup.ToString());
    }

    /// <summary>Escapes unsafe characters line by line (line breaks and tabs are kept).</summary>
    private static string TerminalTextBlock(string text) =>
        string.Join("\n", text.Split('\n').Select(TerminalText.Escape));
}
