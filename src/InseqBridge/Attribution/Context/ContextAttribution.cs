using System.Text.RegularExpressions;
using InseqBridge.Aggregation;
using InseqBridge.Data;

namespace InseqBridge.Attribution.Context;

/// <summary>Progress of a context attribution: the phase and, during CCI, tokens done of tokens selected.</summary>
/// <param name="Phase">"generating", "cti" or "cci".</param>
/// <param name="Completed">CCI tokens done.</param>
/// <param name="Total">CCI tokens selected.</param>
public readonly record struct AttributeContextProgress(string Phase, int Completed, int Total);

/// <summary>
/// PECoRe (Sarti et al., ICLR 2024) as Inseq 0.6's <c>attribute-context</c> runs it, on any
/// <see cref="IContextAttributionModel"/>: context-sensitive token identification (a contrastive step score comparing
/// the output with and without context, selected by mean + λ·std and top-k), then contextual cues imputation
/// (attributing each selected token, scores of the context tokens kept).
/// </summary>
public static partial class ContextAttribution
{
    /// <summary>Runs the context attribution of <paramref name="request"/>.</summary>
    /// <exception cref="ContextAttributionException">Bad templates or texts, or an output that needs a prompt
    /// nobody can answer.</exception>
    public static Task<AttributeContextOutput> AttributeContextAsync(
        this IContextAttributionModel model,
        AttributeContextRequest request,
        IProgress<AttributeContextProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(request);
        ContextArguments args = ContextArguments.Resolve(request);
        return Task.Run(() => Run(model, args, progress, cancellationToken), cancellationToken);
    }

    private static async Task<AttributeContextOutput> Run(
        IContextAttributionModel model, ContextArguments a, IProgress<AttributeContextProgress>? progress, CancellationToken ct)
    {
        var o = a.Options;
        bool encDec = model.IsEncoderDecoder;
        string sep = o.DecoderInputOutputSeparator;
        string inputFull = ContextTemplates.Format(a.InputTemplate, a.Request.InputCurrentText, a.InputContextText);
        progress?.Report(new AttributeContextProgress("generating", 0, 0));
        var (outputContext, outputCurrent) = PrepareOutputs(model, a, inputFull, ct);
        string outputFull = ContextTemplates.Format(a.OutputTemplate, outputCurrent, outputContext);

        IReadOnlyList<string>? inputContextTokens = a.InputContextText is null ? null : Filtered(model, a.InputContextText, o, false);
        if (!encDec)
        {
            outputFull = ContextTemplates.ConcatWithSeparator(inputFull, outputFull, sep);
        }

        var outputCurrentTokens = Filtered(model, outputCurrent, o, true);
        IReadOnlyList<string>? outputContextTokens = outputContext is null ? null : Filtered(model, outputContext, o, true);
        var inputFullTokens = Filtered(model, inputFull, o, false);
        var outputFullTokens = Filtered(model, outputFull, o, true);
        int currentOffset = outputFullTokens.Count - outputCurrentTokens.Count;
        string formattedInputCurrent = a.ContextlessInputCurrentText.Replace("{current}", a.Request.InputCurrentText, StringComparison.Ordinal);
        string formattedOutputCurrent = a.ContextlessOutputCurrentText.Replace("{current}", outputCurrent, StringComparison.Ordinal);
        if (!encDec)
        {
            formattedInputCurrent = ContextTemplates.ConcatWithSeparator(formattedInputCurrent, string.Empty, sep);
            formattedOutputCurrent = formattedInputCurrent + formattedOutputCurrent;
        }

        // Part 1: context-sensitive token identification.
        progress?.Report(new AttributeContextProgress("cti", 0, 0));
        var metric = StepFunction.FromId(o.ContextSensitivityMetric);
        var ctiRequest = new AttributionRequest([formattedInputCurrent.TrimEnd(' ')])
        {
            GeneratedTexts = [formattedOutputCurrent],
            AttributeTarget = encDec,
            StepScores = [metric],
            Contrast = new ContrastOptions { Sources = encDec ? [inputFull] : null, Targets = [outputFull] },
            Method = AttributionMethod.FromId("dummy"),
        };
        FeatureAttributionOutput ctiOut = await model.AttributeAsync(ctiRequest, null, ct).ConfigureAwait(false);
        a.Request.IntermediateOutputs?.Invoke("cti", ctiOut);
        FeatureAttributionSequenceOutput ctiSeq = ctiOut.SequenceAttributions[0];
        string contextlessOutputPrefix = ContextTemplates.Before(a.ContextlessOutputCurrentText, "{current}");
        int startPos = Filtered(model, contextlessOutputPrefix, o, true).Count;
        var allScores = ctiSeq.StepScores[metric.Id].ToArray();
        var ctiScores = allScores.Skip(startPos).Select(v => (double)v).ToList();
        var ctiTokens = ctiSeq.Target.Skip(startPos + ctiSeq.AttrPosStart).Select(t => t.Token).ToList();
        if (encDec)
        {
            ctiScores = ctiScores.Take(Math.Max(0, ctiScores.Count - 1)).ToList();
            ctiTokens = ctiTokens.Take(Math.Max(0, ctiTokens.Count - 1)).ToList();
        }

        var (ranked, ctiThreshold) = ContextTokenSelection.FilterRank(ctiTokens, ctiScores, o.ContextSensitivityStdThreshold, o.ContextSensitivityTopK);

        // Part 2: contextual cues imputation.
        var cci = new List<CciOutput>();
        StepFunction? attributedFn = o.AttributedFn is null ? null : StepFunction.FromId(o.AttributedFn, StepFunction.RouteArguments(o.AttributedFn, o.AttributionKwargs));
        bool contrastiveFn = attributedFn is ContrastiveStepFunction;
        var methodArgs = o.AttributionKwargs.Where(kv => o.AttributedFn is null || !StepFunction.ArgumentNames(o.AttributedFn).Contains(kv.Key))
            .ToDictionary(kv => kv.Key, kv => kv.Value);
        AttributionMethod method = AttributionMethod.FromId(o.AttributionMethod, methodArgs);
        for (int step = 0; step < ranked.Count; step++)
        {
            ct.ThrowIfCancellationRequested();
            progress?.Report(new AttributeContextProgress("cci", step, ranked.Count));
            var (ctiIdx, ctiScore, ctiTok) = ranked[step];
            string contextualInput = model.ConvertTokensToString(inputFullTokens, false).TrimStart(' ');
            string contextualOutput = model.ConvertTokensToString(outputFullTokens.Take(currentOffset + ctiIdx + 1).ToList(), false).TrimStart(' ');
            IReadOnlyList<string> outputCtxTokens;
            if (contextualOutput.Length == 0)
            {
                var single = new List<string> { outputFullTokens[currentOffset + ctiIdx] };
                if (encDec)
                {
                    single.Add(model.PadToken);
                }

                outputCtxTokens = single;
                contextualOutput = model.ConvertTokensToString(single, true);
            }
            else
            {
                outputCtxTokens = model.ConvertStringToTokens(contextualOutput, encDec);
            }

            ContrastOptions? contrast = null;
            string? contextlessOutput = null;
            if (contrastiveFn)
            {
                if (!encDec)
                {
                    formattedInputCurrent = ContextTemplates.ConcatWithSeparator(formattedInputCurrent, contextlessOutputPrefix, sep);
                }

                contextlessOutput = ContextlessOutput(model, a, formattedInputCurrent, outputCurrentTokens, ctiIdx, ranked.Count, step, ct);
                var ctxlessTokens = model.ConvertStringToTokens(contextlessOutput, encDec);
                int back = encDec ? 2 : 1;
                bool sameToken = outputCtxTokens.Count >= back && ctxlessTokens.Count >= back
                    && outputCtxTokens[^back] == ctxlessTokens[^back];
                contrast = new ContrastOptions
                {
                    Sources = encDec ? [formattedInputCurrent] : null,
                    Targets = [contextlessOutput],
                    ForceInputs = o.AttributedFn == "kl_divergence" || sameToken,
                };
            }

            int bosOffset = encDec || (outputCtxTokens.Count > 0 && outputCtxTokens[0] == model.BosToken) ? 1 : 0;
            var cciRequest = new AttributionRequest([contextualInput])
            {
                GeneratedTexts = [contextualOutput],
                AttributeTarget = encDec && a.HasOutputContext,
                AttrPosStart = currentOffset + ctiIdx + bosOffset,
                AttributedFunction = attributedFn,
                Method = method,
                Contrast = contrast,
                Generation = o.Generation,
            };
            FeatureAttributionOutput cciOut;
            try
            {
                cciOut = await model.AttributeAsync(cciRequest, null, ct).ConfigureAwait(false);
            }
            catch (Errors.InvalidRequestException e)
            {
                // Inseq refuses this too (its start and end attribution positions are the same): typically an output
                // that ended at once, so that the context-sensitive token is the end of the sequence.
                throw new ContextAttributionException(
                    $"Contextual cues imputation cannot attribute output token {ctiIdx} ('{ctiTok}'): {e.Message} Give --output-current-text, or other --generation-kwargs.");
            }

            FeatureAttributionSequenceOutput seq = cciOut.SequenceAttributions[0];
            var aggregators = DefaultAggregation.For(seq).Select(x => x is ScoresAggregator s ? s with { Normalize = o.NormalizeAttributions } : x).ToArray();
            seq = seq.Aggregate(aggregators);
            a.Request.IntermediateOutputs?.Invoke("cci", cciOut with { SequenceAttributions = [seq] });
            var (sourceScores, targetScores) = ContextScores(model, a, seq, inputContextTokens, inputFullTokens, outputContextTokens);
            cci.Add(new CciOutput(ctiIdx, ctiTok, ctiScore, contextualOutput, contextlessOutput, sourceScores, targetScores));
        }

        progress?.Report(new AttributeContextProgress("cci", ranked.Count, ranked.Count));
        return new AttributeContextOutput
        {
            InputContext = a.InputContextText,
            InputContextTokens = inputContextTokens,
            OutputContext = outputContext,
            OutputContextTokens = outputContextTokens,
            OutputCurrent = outputCurrent,
            OutputCurrentTokens = outputCurrentTokens,
            CtiScores = ctiScores,
            CciScores = cci,
            Info = o.AddOutputInfo ? a.ToInfo(model.Info.ModelName, outputContext, outputCurrent) : null,
            CtiThreshold = ctiThreshold,
        };
    }

    /// <summary>Tokens of <paramref name="text"/> without special tokens, except those kept (<c>get_filtered_tokens</c>).</summary>
    public static IReadOnlyList<string> FilteredTokens(IContextAttributionModel model, string text, IReadOnlyList<string> keep, bool isTarget)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(keep);
        return model.ConvertStringToTokens(text, isTarget && model.IsEncoderDecoder)
            .Where(t => !model.IsSpecialToken(t) || keep.Contains(t)).ToList();
    }

    private static IReadOnlyList<string> Filtered(IContextAttributionModel model, string text, AttributeContextOptions o, bool isTarget) =>
        FilteredTokens(model, text, o.SpecialTokensToKeep, isTarget);

    private static string GenerateKeepingSpecials(
        IContextAttributionModel model, string input, GenerationArguments generation, string? prefix, bool prefixSpecials, bool generatedOnly, AttributeContextOptions o, CancellationToken ct)
    {
        string generated = model.Generate(input, generation, prefix, prefixSpecials, generatedOnly, ct);
        return model.ConvertTokensToString(Filtered(model, generated, o, true), false);
    }

    private static (string? Context, string Current) PrepareOutputs(IContextAttributionModel model, ContextArguments a, string inputFull, CancellationToken ct)
    {
        var o = a.Options;
        string template = a.OutputTemplate;
        bool useOutCtx = template.Contains("{context}", StringComparison.Ordinal);
        bool hasOutCtx = a.OutputContextText is not null;
        bool hasOutCurr = a.Request.OutputCurrentText is not null;
        if (hasOutCtx == useOutCtx && hasOutCurr)
        {
            return (a.OutputContextText, a.Request.OutputCurrentText!);
        }

        string prefix = ContextTemplates.Before(template, useOutCtx ? "{context}" : "{current}");
        string currentPrefixTemplate = ContextTemplates.Before(template, "{current}");
        string suffix = ContextTemplates.After(template, "{current}");
        string? separator = useOutCtx ? ContextTemplates.Before(ContextTemplates.After(template, "{context}"), "{current}") : null;
        string modelInput = inputFull;
        string currentPrefix = prefix;
        string? decoderPrefix = null;
        if (hasOutCtx && !hasOutCurr)
        {
            currentPrefix = currentPrefixTemplate.Trim().Replace("{context}", a.OutputContextText, StringComparison.Ordinal);
            if (model.IsEncoderDecoder)
            {
                decoderPrefix = currentPrefix;
            }
            else
            {
                modelInput = ContextTemplates.ConcatWithSeparator(inputFull, currentPrefix, o.DecoderInputOutputSeparator);
                currentPrefix = modelInput;
            }
        }

        if (!model.IsEncoderDecoder)
        {
            modelInput = ContextTemplates.ConcatWithSeparator(inputFull, string.Empty, o.DecoderInputOutputSeparator);
        }

        string generated = GenerateKeepingSpecials(model, modelInput, o.Generation, decoderPrefix, false, true, o, ct);
        if (currentPrefix.Length > 0)
        {
            if (!generated.StartsWith(currentPrefix, StringComparison.Ordinal))
            {
                throw new ContextAttributionException(
                    $"Output template '{template}' has prefix '{currentPrefix}' but the generated output '{generated}' does not start with it; check the template, or force the context and current outputs.");
            }

            generated = generated[currentPrefix.Length..];
        }

        if (suffix.Length > 0)
        {
            if (!generated.EndsWith(suffix, StringComparison.Ordinal))
            {
                throw new ContextAttributionException(
                    $"Output template '{template}' has suffix '{suffix}' but the generated output '{generated}' does not end with it; check the template, or force the context and current outputs.");
            }

            generated = generated[..^suffix.Length];
        }

        if (hasOutCtx == useOutCtx && !hasOutCurr)
        {
            return (a.OutputContextText, generated.Trim());
        }

        // The generation holds context and current: split on the template's separator, then on punctuation.
        string? candidate = null;
        if (!string.IsNullOrEmpty(separator))
        {
            string[] parts = generated.Split(separator);
            if (parts.Length == 2)
            {
                candidate = parts[0];
            }
        }

        if (string.IsNullOrEmpty(candidate))
        {
            var pieces = Punctuation().Split(generated).Where(s => s.Length > 0).ToList();
            if (pieces.Count == 2)
            {
                candidate = pieces[0];
            }
        }

        if (string.IsNullOrEmpty(candidate) && model.IsEncoderDecoder && a.InputContextText is not null)
        {
            throw new ContextAttributionException(
                "Splitting the generated output context needs a word aligner (awesome-align in Inseq), which InseqBridge does not have; give --output-context-text.");
        }

        string finalContext;
        if (!string.IsNullOrEmpty(candidate) && o.HandleOutputContextStrategy == OutputContextStrategy.Auto)
        {
            finalContext = candidate;
        }
        else
        {
            var ask = a.Request.AskOutputContext ?? throw new ContextAttributionException(
                $"The model generated '{generated}' and its output context must be confirmed, but no one can be asked; give --output-context-text (or use --handle-output-context-strategy auto).");
            finalContext = ask(new OutputContextQuestion(generated, string.IsNullOrEmpty(candidate) ? null : candidate));
            if (!generated.StartsWith(finalContext, StringComparison.Ordinal))
            {
                throw new ContextAttributionException($"The output context '{finalContext}' is not a prefix of the generated output '{generated}'; give a prefix of it.");
            }
        }

        string templateContext = currentPrefixTemplate.Replace("{context}", finalContext, StringComparison.Ordinal);
        if (finalContext.Length == 0)
        {
            templateContext = templateContext.Trim();
        }

        string finalCurrent = generated[Math.Min(templateContext.Length, generated.Length)..];
        if (!hasOutCurr && finalCurrent.Length == 0)
        {
            throw new ContextAttributionException(
                $"The model produced an empty current output after the context '{finalContext}'; force an output context with --output-context-text.");
        }

        return (finalContext, finalCurrent.Trim());
    }

    [GeneratedRegex(@"[\s.?!,;:)\]}]+")]
    private static partial Regex Punctuation();

    private static string ContextlessOutput(
        IContextAttributionModel model, ContextArguments a, string inputCurrent, IReadOnlyList<string> outputCurrentTokens, int ctiIdx, int selected, int step, CancellationToken ct)
    {
        var o = a.Options;
        string? next = null;
        if (o.ContextlessOutputNextTokens.Count > 0)
        {
            if (o.ContextlessOutputNextTokens.Count != selected)
            {
                throw new ContextAttributionException(
                    $"{o.ContextlessOutputNextTokens.Count} contextless output next tokens for {selected} context-sensitive tokens; give one per context-sensitive token.");
            }

            next = o.ContextlessOutputNextTokens[step];
        }

        string contextualPrefix = model.ConvertTokensToString(outputCurrentTokens.Take(ctiIdx).ToList(), false);
        if (o.PromptUserForContextlessOutputNextTokens)
        {
            var ask = o.AskContextlessNextToken ?? throw new ContextAttributionException(
                "Prompting for contextless next tokens needs an interactive terminal; give --contextless-output-next-tokens instead.");
            next = ask(contextualPrefix, outputCurrentTokens[ctiIdx]);
        }

        if (next is not null)
        {
            string first = model.ConvertStringToTokens(next, model.IsEncoderDecoder)[0];
            return model.ConvertTokensToString([.. outputCurrentTokens.Take(ctiIdx), first], false);
        }

        if (model.IsEncoderDecoder)
        {
            return GenerateKeepingSpecials(model, inputCurrent, o.Generation with { MaxNewTokens = 2 }, contextualPrefix, true, false, o, ct);
        }

        string input = ContextTemplates.ConcatWithSeparator(inputCurrent, contextualPrefix, o.DecoderInputOutputSeparator);
        return GenerateKeepingSpecials(model, input, o.Generation with { MaxNewTokens = 1 }, null, false, false, o, ct);
    }

    private static (IReadOnlyList<double>? Source, IReadOnlyList<double>? Target) ContextScores(
        IContextAttributionModel model, ContextArguments a, FeatureAttributionSequenceOutput seq,
        IReadOnlyList<string>? inputContextTokens, IReadOnlyList<string> inputFullTokens, IReadOnlyList<string>? outputContextTokens)
    {
        var o = a.Options;
        static List<double> FirstColumn(NdArray? scores)
        {
            if (scores is null)
            {
                return [];
            }

            int rows = scores.Shape[0];
            int cols = scores.Rank > 1 ? scores.Shape[1] : 1;
            float[] data = scores.ToArray();
            return Enumerable.Range(0, rows).Select(r => (double)data[r * cols]).ToList();
        }

        static List<double> Slice(List<double> values, int start, int count) =>
            values.Skip(start).Take(Math.Max(0, Math.Min(values.Count, start + count) - start)).ToList();

        List<double>? input = null;
        List<double>? output = null;
        if (a.HasInputContext)
        {
            input = FirstColumn(model.IsEncoderDecoder ? seq.SourceAttributions : seq.TargetAttributions);
            string inputPrefix = ContextTemplates.Before(a.InputTemplate, "{context}");
            if (inputPrefix.Contains("{current}", StringComparison.Ordinal))
            {
                inputPrefix = inputPrefix.Replace("{current}", a.Request.InputCurrentText, StringComparison.Ordinal);
            }

            int prefixLength = Filtered(model, inputPrefix, o, false).Count;
            input = Slice(input, prefixLength, inputContextTokens?.Count ?? 0);
        }

        if (a.HasOutputContext)
        {
            output = FirstColumn(seq.TargetAttributions);
            string outputPrefix = ContextTemplates.Before(a.OutputTemplate, "{context}");
            if (!model.IsEncoderDecoder && outputPrefix.Length > 0)
            {
                outputPrefix = o.DecoderInputOutputSeparator + outputPrefix;
            }

            int prefixLength = Filtered(model, outputPrefix, o, true).Count;
            if (!model.IsEncoderDecoder)
            {
                prefixLength += inputFullTokens.Count;
            }

            output = Slice(output, prefixLength, outputContextTokens?.Count ?? 0);
        }

        return (input, output);
    }
}
