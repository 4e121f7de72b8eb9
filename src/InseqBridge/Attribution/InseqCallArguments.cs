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
    /// argument, method or step function the typed request cannot express (see <see cref="Parse"/>).
    /// </summary>
    public static AttributionRequest? FromKwargs(string methodId, JsonObject kwargs, out string? unsupported)
    {
        try
        {
            unsupported = null;
            return Parse(methodId, kwargs);
        }
        catch (InseqBridgeException e) when (e is InseqCallArgumentException or InvalidRequestException)
        {
            unsupported = e.Message;
            return null;
        }
    }

    /// <summary>
    /// Reads a recorded Inseq call as a typed request: <paramref name="methodId"/> (the method the model was loaded
    /// with, or the call's <c>method</c>) and the keyword arguments of <c>model.attribute</c>. Keys are routed as Inseq
    /// routes them: the call's own arguments, the method's arguments (top level or in <c>attribution_args</c>), and the
    /// step functions' arguments (in <c>step_scores_args</c> / <c>attributed_fn_args</c>, or at top level by signature).
    /// </summary>
    /// <exception cref="InseqCallArgumentException">A key nothing reads, or a value of the wrong kind (names the key).</exception>
    /// <exception cref="InvalidRequestException">Unknown method or step function, or a bad argument value.</exception>
    public static AttributionRequest Parse(string methodId, JsonObject kwargs)
    {
        ArgumentNullException.ThrowIfNull(methodId);
        ArgumentNullException.ThrowIfNull(kwargs);
        var methodKeys = AttributionMethod.DescribeArguments(methodId).Select(a => a.Name).ToHashSet();
        List<string> scoreIds = StringList(kwargs, "step_scores") ?? [];
        string? fnId = String(kwargs, "attributed_fn");
        // Without attributed_fn Inseq attributes the default step function, which takes the same bare arguments.
        var stepKeys = scoreIds.Append(fnId ?? StepFunction.Default.Id).SelectMany(StepFunction.ArgumentNames).ToHashSet();

        var methodArgs = new Dictionary<string, string>();
        var bareStepArgs = new Dictionary<string, string>();
        foreach (var (key, value) in kwargs)
        {
            if (CallKeys.Contains(key))
            {
                continue;
            }

            if (methodKeys.Contains(key))
            {
                methodArgs[key] = Scalar(value);
            }
            else if (stepKeys.Contains(key))
            {
                bareStepArgs[key] = Scalar(value);
            }
            else
            {
                throw Unknown(key, methodId, methodKeys);
            }
        }

        if (kwargs["attribution_args"] is { } explicitArgs)
        {
            foreach (var (key, value) in Object(explicitArgs, "attribution_args"))
            {
                methodArgs[key] = methodKeys.Contains(key) ? Scalar(value) : throw Unknown("attribution_args." + key, methodId, methodKeys);
            }
        }

        AttributionMethod method = AttributionMethod.FromId(methodId, methodArgs);
        Dictionary<string, string> StepArguments(string nested)
        {
            var args = new Dictionary<string, string>(bareStepArgs);
            if (kwargs[nested] is { } node)
            {
                foreach (var (key, value) in Object(node, nested))
                {
                    args[key] = Scalar(value);
                }
            }

            return args;
        }

        var stepArgs = StepArguments("step_scores_args");
        string? unread = stepArgs.Keys.FirstOrDefault(k => !bareStepArgs.ContainsKey(k) && !scoreIds.Any(id => StepFunction.ArgumentNames(id).Contains(k)));
        if (unread is not null && scoreIds.Count > 0)
        {
            throw new InseqCallArgumentException("step_scores_args." + unread,
                $"Recorded Inseq call: no step score in [{string.Join(", ", scoreIds)}] takes step_scores_args key '{unread}'; remove it or add the step score that takes it.");
        }

        var scores = scoreIds.Select(id => StepFunction.FromId(id, StepFunction.RouteArguments(id, stepArgs))).ToList();
        StepFunction? fn = null;
        var fnArgs = StepArguments("attributed_fn_args");
        if (fnId is not null || fnArgs.Count > 0)
        {
            // Bare arguments for the default attributed function make it explicit (attributed_fn="probability").
            string id = fnId ?? StepFunction.Default.Id;
            fn = StepFunction.FromId(id, StepFunction.RouteArguments(id, fnArgs));
        }

        var generation = new GenerationArguments();
        if (kwargs["generation_args"] is { } g)
        {
            JsonObject generationArgs = Object(g, "generation_args");
            string? unknown = generationArgs.Select(kv => kv.Key).FirstOrDefault(k => !GenerationArguments.Keys.Contains(k));
            if (unknown is not null)
            {
                throw new InseqCallArgumentException("generation_args." + unknown,
                    $"Recorded Inseq call: unsupported generation argument '{unknown}'; supported: {string.Join(", ", GenerationArguments.Keys)}.");
            }

            generation = GenerationArguments.FromJson(generationArgs);
        }

        List<string>? contrastTargets = StringList(kwargs, "contrast_targets");
        List<string>? contrastSources = StringList(kwargs, "contrast_sources");
        return new AttributionRequest(StringList(kwargs, "input_texts")
            ?? throw new InseqCallArgumentException("input_texts", "Recorded Inseq call has no 'input_texts'; every model.attribute call names its inputs."))
        {
            GeneratedTexts = StringList(kwargs, "generated_texts"),
            Method = method,
            StepScores = scores,
            AttributedFunction = fn,
            AttributeTarget = Bool(kwargs, "attribute_target"),
            AttrPosStart = Int(kwargs, "attr_pos_start"),
            AttrPosEnd = Int(kwargs, "attr_pos_end"),
            IncludeEosBaseline = Bool(kwargs, "include_eos_baseline"),
            BatchSize = Int(kwargs, "batch_size"),
            Generation = generation,
            OutputStepAttributions = Bool(kwargs, "output_step_attributions"),
            GenerateFromTargetPrefix = Bool(kwargs, "generate_from_target_prefix"),
            SkipSpecialTokens = Bool(kwargs, "skip_special_tokens"),
            CleanSpecialChars = Bool(kwargs, "clean_special_chars"),
            Contrast = contrastTargets is null && contrastSources is null ? null : new ContrastOptions
            {
                Targets = contrastTargets,
                Sources = contrastSources,
                Alignments = kwargs["contrast_targets_alignments"] is JsonNode al
                    ? ContrastAlignments.Parse(al is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : al.ToJsonString())
                    : null,
                ForceInputs = Bool(kwargs, "contrast_force_inputs"),
            },
        };
    }

    /// <summary>The keyword arguments of <c>model.attribute</c> that belong to the call itself (not to the method or a
    /// step function).</summary>
    public static IReadOnlySet<string> CallKeys { get; } = new HashSet<string>
    {
        "input_texts", "generated_texts", "step_scores", "step_scores_args", "attributed_fn", "attributed_fn_args",
        "attribution_args", "attribute_target", "attr_pos_start", "attr_pos_end", "include_eos_baseline", "batch_size",
        "generation_args", "show_progress", "output_step_attributions", "contrast_targets", "contrast_sources",
        "contrast_targets_alignments", "contrast_force_inputs", "generate_from_target_prefix", "skip_special_tokens",
        "clean_special_chars",
    };

    private static InseqCallArgumentException Unknown(string key, string methodId, HashSet<string> methodKeys) => new(
        key,
        $"Recorded Inseq call: unknown argument '{key}' (not an argument of model.attribute, of method '{methodId}'" +
        (methodKeys.Count > 0 ? $" [{string.Join(", ", methodKeys)}]" : string.Empty) + " or of its step functions); remove it or fix its name.");

    private static JsonObject Object(JsonNode node, string key) =>
        node as JsonObject ?? throw new InseqCallArgumentException(key, $"Recorded Inseq call: '{key}' must be an object of keyword arguments (got {node.ToJsonString()}).");

    private static string? String(JsonObject kwargs, string key) => kwargs[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonNode other => throw new InseqCallArgumentException(key, $"Recorded Inseq call: '{key}' must be a string (got {other.ToJsonString()})."),
    };

    private static List<string>? StringList(JsonObject kwargs, string key) => kwargs[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => [v.GetValue<string>()],
        JsonArray a when a.All(x => x is JsonValue e && e.GetValueKind() == JsonValueKind.String) => [.. a.Select(x => x!.GetValue<string>())],
        JsonNode other => throw new InseqCallArgumentException(key, $"Recorded Inseq call: '{key}' must be a string or a list of strings (got {other.ToJsonString()})."),
    };

    private static bool Bool(JsonObject kwargs, string key) => kwargs[key] switch
    {
        null => false,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        JsonNode other => throw new InseqCallArgumentException(key, $"Recorded Inseq call: '{key}' must be true or false (got {other.ToJsonString()})."),
    };

    private static int? Int(JsonObject kwargs, string key) => kwargs[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out int i) => i,
        JsonNode other => throw new InseqCallArgumentException(key, $"Recorded Inseq call: '{key}' must be an integer (got {other.ToJsonString()})."),
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
