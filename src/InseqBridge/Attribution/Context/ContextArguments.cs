using System.Text.Json.Nodes;

namespace InseqBridge.Attribution.Context;

/// <summary>
/// A <see cref="AttributeContextRequest"/> checked and completed as Inseq's <c>AttributeContextArgs.__post_init__</c>
/// does: default templates, contexts the templates do not use dropped (with a warning), missing placeholders refused.
/// </summary>
public sealed class ContextArguments
{
    private ContextArguments(AttributeContextRequest request)
    {
        Request = request;
    }

    /// <summary>The request as given.</summary>
    public AttributeContextRequest Request { get; }

    /// <summary>The options.</summary>
    public AttributeContextOptions Options => Request.Options;

    /// <summary>The input context (null when absent or unused by the template).</summary>
    public string? InputContextText { get; private set; }

    /// <summary>The input template.</summary>
    public string InputTemplate { get; private set; } = "{current}";

    /// <summary>The output context (null when absent or unused by the template).</summary>
    public string? OutputContextText { get; private set; }

    /// <summary>The output template.</summary>
    public string OutputTemplate { get; private set; } = "{current}";

    /// <summary>The contextless input template.</summary>
    public string ContextlessInputCurrentText { get; private set; } = "{current}";

    /// <summary>The contextless output template.</summary>
    public string ContextlessOutputCurrentText { get; private set; } = "{current}";

    /// <summary>The input template has <c>{context}</c>.</summary>
    public bool HasInputContext { get; private set; }

    /// <summary>The output template has <c>{context}</c>.</summary>
    public bool HasOutputContext { get; private set; }

    /// <summary>What Inseq logs as warnings (ignored contexts, template suffixes).</summary>
    public IReadOnlyList<string> Warnings { get; private set; } = [];

    /// <summary>Checks and completes <paramref name="request"/>.</summary>
    /// <exception cref="ContextAttributionException">A rule of Inseq's argument checks is broken; the message names it.</exception>
    public static ContextArguments Resolve(AttributeContextRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var o = request.Options;
        var a = new ContextArguments(request);
        var warnings = new List<string>();
        a.OutputTemplate = request.OutputTemplate ?? (request.OutputContextText is null ? "{current}" : "{context} {current}");
        if (o.HandleOutputContextStrategy == OutputContextStrategy.Pre && string.IsNullOrEmpty(request.OutputContextText) && a.OutputTemplate.Contains("{context}", StringComparison.Ordinal))
        {
            throw new ContextAttributionException(
                "--handle-output-context-strategy pre with {context} in the output template needs --output-context-text; give it, or use manual.");
        }

        if (o.ContextlessOutputNextTokens.Count > 0 && o.PromptUserForContextlessOutputNextTokens)
        {
            throw new ContextAttributionException("Give either contextless output next tokens or the prompt for them, not both.");
        }

        a.InputTemplate = request.InputTemplate ?? (request.InputContextText is null ? "{current}" : "{context} {current}");
        a.ContextlessInputCurrentText = request.ContextlessInputCurrentText ?? "{current}";
        if (!a.ContextlessInputCurrentText.Contains("{current}", StringComparison.Ordinal))
        {
            throw new ContextAttributionException($"The contextless input current text '{a.ContextlessInputCurrentText}' has no {{current}} placeholder; add it.");
        }

        a.ContextlessOutputCurrentText = request.ContextlessOutputCurrentText ?? "{current}";
        if (!a.ContextlessOutputCurrentText.Contains("{current}", StringComparison.Ordinal))
        {
            throw new ContextAttributionException($"The contextless output current text '{a.ContextlessOutputCurrentText}' has no {{current}} placeholder; add it.");
        }

        a.HasInputContext = a.InputTemplate.Contains("{context}", StringComparison.Ordinal);
        a.HasOutputContext = a.OutputTemplate.Contains("{context}", StringComparison.Ordinal);
        if (string.IsNullOrEmpty(request.InputCurrentText))
        {
            throw new ContextAttributionException("The input current text is empty; give a non-empty --input-current-text.");
        }

        a.InputContextText = request.InputContextText;
        if (!string.IsNullOrEmpty(a.InputContextText) && !a.HasInputContext)
        {
            warnings.Add($"input template '{a.InputTemplate}' has no {{context}}: the input context text is ignored.");
            a.InputContextText = null;
        }

        a.OutputContextText = request.OutputContextText;
        if (!string.IsNullOrEmpty(a.OutputContextText) && !a.HasOutputContext)
        {
            warnings.Add($"output template '{a.OutputTemplate}' has no {{context}}: the output context text is ignored.");
            a.OutputContextText = null;
        }

        if (string.IsNullOrEmpty(a.InputContextText) && a.HasInputContext)
        {
            throw new ContextAttributionException($"Input template '{a.InputTemplate}' has a {{context}} placeholder but no input context text is given; give --input-context-text.");
        }

        if (!a.InputTemplate.Contains("{current}", StringComparison.Ordinal))
        {
            throw new ContextAttributionException($"Input template '{a.InputTemplate}' has no {{current}} placeholder; add it.");
        }

        if (!a.OutputTemplate.Contains("{current}", StringComparison.Ordinal))
        {
            throw new ContextAttributionException($"Output template '{a.OutputTemplate}' has no {{current}} placeholder; add it.");
        }

        if (a.HasOutputContext && a.OutputTemplate.IndexOf("{context}", StringComparison.Ordinal) > a.OutputTemplate.IndexOf("{current}", StringComparison.Ordinal))
        {
            throw new ContextAttributionException($"{{context}} must come before {{current}} in output template '{a.OutputTemplate}'.");
        }

        if (!a.OutputTemplate.EndsWith("{current}", StringComparison.Ordinal))
        {
            warnings.Add($"output template suffix '{ContextTemplates.After(a.OutputTemplate, "{current}")}' is expected at the end of the current output.");
        }

        if (!ContrastiveIds.Contains(o.ContextSensitivityMetric))
        {
            throw new ContextAttributionException($"Context sensitivity metric '{o.ContextSensitivityMetric}' is not a contrastive step function; use one of {string.Join(", ", ContrastiveIds)}.");
        }

        a.Warnings = warnings;
        return a;
    }

    /// <summary>Ids of the contrastive built-in step functions (the valid context sensitivity metrics).</summary>
    public static IReadOnlyList<string> ContrastiveIds { get; } =
        ["contrast_logits", "contrast_prob", "contrast_logits_diff", "contrast_prob_diff", "pcxmi", "kl_divergence", "in_context_pvi"];

    /// <summary>Inseq's <c>info</c> (<c>AttributeContextArgs.to_dict()</c>) for the final texts.</summary>
    /// <param name="modelName">Recorded <c>model_name_or_path</c>.</param>
    /// <param name="outputContext">The output context used.</param>
    /// <param name="outputCurrent">The current output used.</param>
    public JsonObject ToInfo(string modelName, string? outputContext, string? outputCurrent)
    {
        var o = Options;
        static JsonArray Strings(IEnumerable<string> items) => new(items.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray());
        var generation = new JsonObject();
        foreach (var (key, value) in o.Generation.ToInfo())
        {
            generation[key] = value switch
            {
                int i => JsonValue.Create(i),
                bool b => JsonValue.Create(b),
                double d => JsonValue.Create(d),
                _ => JsonValue.Create(value?.ToString()),
            };
        }

        var info = new JsonObject
        {
            ["show_intermediate_outputs"] = false,
            ["save_path"] = null,
            ["add_output_info"] = o.AddOutputInfo,
            ["viz_path"] = null,
            ["show_viz"] = true,
            ["model_name_or_path"] = Request.ModelNameOrPath ?? modelName,
            ["attribution_method"] = o.AttributionMethod,
            ["device"] = "cpu",
            ["attributed_fn"] = o.AttributedFn,
            ["attribution_selectors"] = null,
            ["attribution_aggregators"] = null,
            ["normalize_attributions"] = o.NormalizeAttributions,
            ["model_kwargs"] = new JsonObject(),
            ["tokenizer_kwargs"] = new JsonObject(),
            ["generation_kwargs"] = generation,
            ["attribution_kwargs"] = new JsonObject(o.AttributionKwargs.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))),
            ["context_sensitivity_metric"] = o.ContextSensitivityMetric,
            ["handle_output_context_strategy"] = o.HandleOutputContextStrategy.ToString().ToLowerInvariant(),
            ["contextless_output_next_tokens"] = Strings(o.ContextlessOutputNextTokens),
            ["prompt_user_for_contextless_output_next_tokens"] = o.PromptUserForContextlessOutputNextTokens,
            ["special_tokens_to_keep"] = Strings(o.SpecialTokensToKeep),
            ["decoder_input_output_separator"] = o.DecoderInputOutputSeparator,
            ["context_sensitivity_std_threshold"] = o.ContextSensitivityStdThreshold,
            ["context_sensitivity_topk"] = o.ContextSensitivityTopK,
            ["attribution_std_threshold"] = o.AttributionStdThreshold,
            ["attribution_topk"] = o.AttributionTopK,
            ["input_current_text"] = Request.InputCurrentText,
            ["input_context_text"] = InputContextText,
            ["input_template"] = InputTemplate,
            ["output_context_text"] = outputContext,
            ["output_current_text"] = outputCurrent,
            ["output_template"] = OutputTemplate,
            ["contextless_input_current_text"] = ContextlessInputCurrentText,
            ["contextless_output_current_text"] = ContextlessOutputCurrentText,
            ["has_input_context"] = HasInputContext,
            ["has_output_context"] = HasOutputContext,
        };
        foreach (var (key, value) in Request.ExtraInfo ?? [])
        {
            info[key] = value?.DeepClone();
        }

        return info;
    }
}
