using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using InseqBridge.Errors;

namespace InseqBridge.Attribution;

/// <summary>
/// Maps a typed <see cref="AttributionRequest"/> to the keyword arguments of Inseq's <c>model.attribute(...)</c> and
/// back. The Python backend sends <see cref="ToKwargs(AttributionRequest, AttributionMethod)"/> to real Inseq; the parity runner reads recorded Inseq calls
/// (a manifest's <c>attribute</c> objects) with <see cref="FromKwargs"/>.
/// </summary>
public static class InseqCallArguments
{
    private static readonly HashSet<string> MethodArgumentKeys = ["n_steps", "internal_batch_size", "method", "return_convergence_delta"];

    /// <summary>
    /// The keyword arguments of <c>model.attribute(...)</c> for <paramref name="request"/>; <paramref name="method"/> is
    /// the method the call runs (its arguments are passed as keyword arguments, as Inseq routes them).
    /// <c>show_progress</c> is always false.
    /// </summary>
    /// <exception cref="InvalidRequestException">Two step scores need different values for the same argument.</exception>
    public static JsonObject ToKwargs(AttributionRequest request, AttributionMethod method) => ToKwargs(request, method, inseqVersion: null);

    /// <summary>
    /// As <see cref="ToKwargs(AttributionRequest, AttributionMethod)"/>, for the Inseq version that will run the call:
    /// options that version's <c>attribute()</c> does not take are refused (see
    /// <see cref="InseqOptionSupport.Check"/>). A null version is not checked.
    /// </summary>
    /// <exception cref="InvalidRequestException">An option the given Inseq version lacks, or step scores that need
    /// different values for one argument.</exception>
    public static JsonObject ToKwargs(AttributionRequest request, AttributionMethod method, string? inseqVersion)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(method);
        InseqOptionSupport.Check(request, inseqVersion);
        var kwargs = new JsonObject
        {
            ["input_texts"] = new JsonArray([.. request.InputTexts.Select(t => (JsonNode?)JsonValue.Create(t))]),
        };
        if (request.GeneratedTexts is { } generated)
        {
            kwargs["generated_texts"] = new JsonArray([.. generated.Select(t => (JsonNode?)JsonValue.Create(t))]);
        }

        kwargs["step_scores"] = new JsonArray([.. request.StepScores.Select(s => (JsonNode?)JsonValue.Create(s.Id))]);
        var stepArgs = new JsonObject();
        foreach (StepFunction score in request.StepScores)
        {
            foreach (var (key, value) in score.Arguments)
            {
                JsonNode? node = ToNode(value);
                if (stepArgs.TryGetPropertyValue(key, out JsonNode? existing) && !JsonNode.DeepEquals(existing, node))
                {
                    throw new InvalidRequestException(
                        $"Step scores disagree on argument '{key}' ({existing?.ToJsonString()} vs {node?.ToJsonString()}); Inseq passes one step_scores_args to all of them.");
                }

                stepArgs[key] = node;
            }
        }

        if (stepArgs.Count > 0)
        {
            kwargs["step_scores_args"] = stepArgs;
        }

        if (request.AttributedFunction is { } fn)
        {
            kwargs["attributed_fn"] = fn.Id;
            if (fn.Arguments.Count > 0)
            {
                kwargs["attributed_fn_args"] = new JsonObject(fn.Arguments.Select(kv => KeyValuePair.Create(kv.Key, ToNode(kv.Value))));
            }
        }

        if (request.AttributeTarget)
        {
            kwargs["attribute_target"] = true;
        }

        if (request.AttrPosStart is int start)
        {
            kwargs["attr_pos_start"] = start;
        }

        if (request.AttrPosEnd is int end)
        {
            kwargs["attr_pos_end"] = end;
        }

        if (request.IncludeEosBaseline)
        {
            kwargs["include_eos_baseline"] = true;
        }

        if (request.BatchSize is int batch)
        {
            kwargs["batch_size"] = batch;
        }

        if (request.OutputStepAttributions)
        {
            kwargs["output_step_attributions"] = true;
        }

        if (request.Contrast is { } contrast)
        {
            // Inseq routes these by signature to the contrastive step functions and attributed function.
            if (contrast.Targets is { } targets)
            {
                kwargs["contrast_targets"] = new JsonArray([.. targets.Select(t => (JsonNode?)JsonValue.Create(t))]);
            }

            if (contrast.Sources is { } sources)
            {
                kwargs["contrast_sources"] = new JsonArray([.. sources.Select(t => (JsonNode?)JsonValue.Create(t))]);
            }

            if (contrast.Alignments is { } alignments)
            {
                kwargs["contrast_targets_alignments"] = alignments.IsAuto
                    ? JsonValue.Create("auto")
                    : new JsonArray([.. alignments.PerSequence.Select(seq => (JsonNode?)new JsonArray([.. seq.Select(p => (JsonNode?)new JsonArray(p.Original, p.Contrast))]))]);
            }

            if (contrast.ForceInputs)
            {
                kwargs["contrast_force_inputs"] = true;
            }
        }

        if (request.GenerateFromTargetPrefix)
        {
            kwargs["generate_from_target_prefix"] = true;
        }

        if (request.SkipSpecialTokens)
        {
            kwargs["skip_special_tokens"] = true;
        }

        if (request.CleanSpecialChars)
        {
            kwargs["clean_special_chars"] = true;
        }

        var generation = request.Generation.ToInfo();
        if (generation.Count > 0)
        {
            kwargs["generation_args"] = new JsonObject(generation.Select(kv => KeyValuePair.Create(kv.Key, ToNode(kv.Value))));
        }

        foreach (var (key, value) in method.Arguments)
        {
            kwargs[key] = ToNode(value);
        }

        kwargs["show_progress"] = false;
        return kwargs;
    }

    /// <summary>
    /// Reads a recorded Inseq call (<paramref name="methodId"/> and the keyword arguments of <c>model.attribute</c>)
    /// as a typed request. Returns null with <paramref name="unsupported"/> naming the reason when the call uses an
    /// argument, method or step function the typed request cannot express.
    /// </summary>
    public static AttributionRequest? FromKwargs(string methodId, JsonObject kwargs, out string? unsupported)
    {
        ArgumentNullException.ThrowIfNull(methodId);
        ArgumentNullException.ThrowIfNull(kwargs);
        unsupported = null;
        var known = new HashSet<string>(MethodArgumentKeys)
        {
            "input_texts", "generated_texts", "step_scores", "step_scores_args", "attributed_fn", "attributed_fn_args",
            "attribute_target", "attr_pos_start", "attr_pos_end", "include_eos_baseline", "batch_size", "generation_args",
            "show_progress", "logprob", "top_p", "top_k", "min_tokens_to_keep", "output_step_attributions",
            "contrast_targets", "contrast_sources", "contrast_targets_alignments", "contrast_force_inputs",
            "generate_from_target_prefix", "skip_special_tokens", "clean_special_chars",
        };
        var extra = kwargs.Select(kv => kv.Key).Where(k => !known.Contains(k)).ToList();
        if (extra.Count > 0)
        {
            unsupported = $"argument(s) {string.Join(", ", extra)}";
            return null;
        }

        try
        {
            var methodArgs = kwargs.Where(kv => MethodArgumentKeys.Contains(kv.Key))
                .ToDictionary(kv => kv.Key, kv => Scalar(kv.Value));
            AttributionMethod method = AttributionMethod.FromId(methodId, methodArgs);

            // Step score arguments: step_scores_args, plus bare logprob/top_p (Inseq routes kwargs by signature).
            var stepArgs = kwargs["step_scores_args"] is JsonObject sa ? sa.ToDictionary(kv => kv.Key, kv => Scalar(kv.Value)) : [];
            foreach (string bare in new[] { "logprob", "top_p", "top_k", "min_tokens_to_keep" })
            {
                if (kwargs[bare] is JsonNode b)
                {
                    stepArgs[bare] = Scalar(b);
                }
            }

            var scores = (kwargs["step_scores"] as JsonArray ?? [])
                .Select(n => n!.GetValue<string>())
                .Select(id => StepFunction.FromId(id, StepFunction.RouteArguments(id, stepArgs)))
                .ToList();
            StepFunction? fn = null;
            if (kwargs["attributed_fn"] is JsonNode fnNode)
            {
                string fnId = fnNode.GetValue<string>();
                var fnArgs = kwargs["attributed_fn_args"] is JsonObject fa ? fa.ToDictionary(kv => kv.Key, kv => Scalar(kv.Value)) : [];
                foreach (string bare in new[] { "logprob", "top_p", "top_k", "min_tokens_to_keep" })
                {
                    if (kwargs[bare] is JsonNode b)
                    {
                        fnArgs[bare] = Scalar(b);
                    }
                }

                fn = StepFunction.FromId(fnId, StepFunction.RouteArguments(fnId, fnArgs));
            }

            var generation = new GenerationArguments();
            if (kwargs["generation_args"] is JsonObject g)
            {
                var unknown = g.Select(kv => kv.Key).Where(k => !GenerationArguments.Keys.Contains(k)).ToList();
                if (unknown.Count > 0)
                {
                    unsupported = $"generation argument(s) {string.Join(", ", unknown)}";
                    return null;
                }

                generation = GenerationArguments.FromJson(g);
            }

            return new AttributionRequest(Strings(kwargs["input_texts"]) ?? [])
            {
                GeneratedTexts = Strings(kwargs["generated_texts"]),
                Method = method,
                StepScores = scores,
                AttributedFunction = fn,
                AttributeTarget = kwargs["attribute_target"]?.GetValue<bool>() ?? false,
                AttrPosStart = kwargs["attr_pos_start"]?.GetValue<int>(),
                AttrPosEnd = kwargs["attr_pos_end"]?.GetValue<int>(),
                IncludeEosBaseline = kwargs["include_eos_baseline"]?.GetValue<bool>() ?? false,
                BatchSize = kwargs["batch_size"]?.GetValue<int>(),
                Generation = generation,
                OutputStepAttributions = kwargs["output_step_attributions"]?.GetValue<bool>() ?? false,
                GenerateFromTargetPrefix = kwargs["generate_from_target_prefix"]?.GetValue<bool>() ?? false,
                SkipSpecialTokens = kwargs["skip_special_tokens"]?.GetValue<bool>() ?? false,
                CleanSpecialChars = kwargs["clean_special_chars"]?.GetValue<bool>() ?? false,
                Contrast = Strings(kwargs["contrast_targets"]) is null && Strings(kwargs["contrast_sources"]) is null ? null : new ContrastOptions
                {
                    Targets = Strings(kwargs["contrast_targets"]),
                    Sources = Strings(kwargs["contrast_sources"]),
                    Alignments = kwargs["contrast_targets_alignments"] is JsonNode al
                        ? ContrastAlignments.Parse(al is JsonValue ? al.GetValue<string>() : al.ToJsonString())
                        : null,
                    ForceInputs = kwargs["contrast_force_inputs"]?.GetValue<bool>() ?? false,
                },
            };
        }
        catch (InvalidRequestException e)
        {
            unsupported = e.Message;
            return null;
        }
    }

    private static List<string>? Strings(JsonNode? node) => node switch
    {
        null => null,
        JsonArray a => [.. a.Select(x => x!.GetValue<string>())],
        _ => [node.GetValue<string>()],
    };

    private static string Scalar(JsonNode? node) => node switch
    {
        null => "null",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>() ? "true" : "false",
        _ => node.ToJsonString(),
    };

    private static JsonNode? ToNode(object? value) => value switch
    {
        null => null,
        JsonNode n => n.DeepClone(),
        string s => JsonValue.Create(s),
        bool b => JsonValue.Create(b),
        int i => JsonValue.Create(i),
        long l => JsonValue.Create(l),
        float f => JsonValue.Create(f),
        double d => JsonValue.Create(d),
        IFormattable f => JsonValue.Create(f.ToString(null, CultureInfo.InvariantCulture)),
        _ => JsonValue.Create(value.ToString()),
    };
}
