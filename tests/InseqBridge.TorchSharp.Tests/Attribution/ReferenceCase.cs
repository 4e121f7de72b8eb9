using System.Globalization;
using System.Text.Json;
using InseqBridge.Aggregation;
using InseqBridge.Attribution;

namespace InseqBridge.TorchSharp.Tests.Attribution;

/// <summary>One case of the parity manifest: the exact Python Inseq call and its saved outputs.</summary>
/// <remarks>
/// Sets: tests/fixtures/parity (the shared parity set), tests/fixtures/reference-extra (produced by
/// python/reference/run_reference_cases.py from python/reference/cases/*.json with the real Python Inseq 0.6.0), and
/// tests/fixtures/parity-real (the real-checkpoint set's OK cases), tests/fixtures/reference-asymmetric (encoder-decoders
/// with different encoder and decoder depths, python/reference/cases/asymmetric.json).
/// </remarks>
public sealed record ReferenceCase(string Id, string Model, string Method, JsonElement Attribute, string Root, string OutputFile, string AggregatedFile)
{
    /// <summary>The custom aggregation pipeline of the case ("aggregate": {"aggregator", "aggregate_fn"}), or empty for
    /// the default one.</summary>
    public IAggregator[] Aggregation { get; init; } = [];

    private static readonly Lazy<List<ReferenceCase>> All = new(() =>
        new[] { Fixtures.ParityDir, Fixtures.ReferenceExtraDir, Fixtures.ReferenceAggregationDir, Fixtures.ReferenceVarietyDir, Fixtures.ParityRealDir, Fixtures.ReferenceAsymmetricDir }
            .Concat(ExtraRoots())
            .SelectMany(Load)

            // tests/fixtures/parity-real/manifest.json is the shared set's manifest verbatim; its cases run for the
            // models whose folders were copied (LogitsParityTests and GenerationParityTests list those explicitly).
            .Where(c => c.Root != Fixtures.ParityRealDir || Directory.Exists(Fixtures.ModelDir(c.Model)))
            .ToList());

    /// <summary>
    /// More reference sets to check (output folders of python/reference/run_reference_cases.py), from the
    /// INSEQBRIDGE_REFERENCE_DIRS environment variable (path-separator separated).
    /// </summary>
    private static IEnumerable<string> ExtraRoots() =>
        (Environment.GetEnvironmentVariable("INSEQBRIDGE_REFERENCE_DIRS") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static List<ReferenceCase> Load(string root)
    {
        using JsonDocument doc = Fixtures.Json(Path.Combine(root, "manifest.json"));
        // parity-real's manifest is kept verbatim and lists cases of models whose folders may not be copied into
        // tests/fixtures: only the cases of models present there are checked. The other sets must be complete.
        return doc.RootElement.GetProperty("cases").EnumerateArray()
            .Where(c => c.GetProperty("ok").GetBoolean()
                && (root != Fixtures.ParityRealDir || Directory.Exists(Fixtures.ModelDir(c.GetProperty("model").GetString()!))))
            .Select(c => new ReferenceCase(
                c.GetProperty("id").GetString()!,
                c.GetProperty("model").GetString()!,
                c.GetProperty("method").GetString()!,
                c.GetProperty("attribute").Clone(),
                root,
                c.GetProperty("output_file").GetString()!,
                c.GetProperty("aggregated_file").GetString()!)
            {
                Aggregation = c.TryGetProperty("aggregate", out var agg)
                    ? AggregatorPipeline.Parse(
                        agg.GetProperty("aggregator").EnumerateArray().Select(x => x.GetString()!).ToList(),
                        agg.TryGetProperty("aggregate_fn", out var fns) ? fns.EnumerateArray().Select(x => x.GetString()!).ToList() : null)
                    : [],
            })
            .ToList();
    }

    public static IReadOnlyList<ReferenceCase> Cases => All.Value;

    public static ReferenceCase Get(string id) => Cases.Single(c => c.Id == id);

    /// <summary>Arguments of occlusion, lime, value_zeroing and reagent, passed on as method arguments.</summary>
    private static readonly string[] PerturbationArgumentKeys =
    [
        "sliding_window_shapes", "strides", "perturbations_per_eval", "n_samples", "mask_prob", "mask_token", "similarity_metric",
        "encoder_zeroed_units_indices", "decoder_zeroed_units_indices", "cross_zeroed_units_indices", "output_decoder_self_scores",
        "output_encoder_self_scores", "keep_top_n", "keep_ratio", "invert_keep", "stopping_condition_top_k", "replacing_ratio",
        "max_probe_steps", "num_probes",
    ];

    private static readonly HashSet<string> NativeKeys =
    [
        "input_texts", "generated_texts", "step_scores", "attribute_target", "attr_pos_start", "attr_pos_end",
        "include_eos_baseline", "generation_args", "show_progress", "n_steps", "internal_batch_size", "method", "attributed_fn", "logprob", "top_p",
        "top_k", "min_tokens_to_keep", "step_scores_args", "attributed_fn_args", "return_convergence_delta",
        "n_samples", "stdevs", "attribution_args", "output_step_attributions",
        .. PerturbationArgumentKeys,
        "contrast_targets", "contrast_sources", "contrast_targets_alignments", "contrast_force_inputs",
    ];

    private static readonly HashSet<string> NativeStepFunctions =
    [
        "probability", "logit", "entropy", "crossentropy", "perplexity", "top_p_size", "contrast_logits", "contrast_prob",
        "contrast_logits_diff", "contrast_prob_diff", "pcxmi", "kl_divergence", "in_context_pvi",
    ];

    /// <summary>True when every argument of the call is one the native engine implements today.</summary>
    public bool IsSupported =>
        AttributionMethod.KnownIds.Contains(Method)
        && Attribute.EnumerateObject().All(p => NativeKeys.Contains(p.Name))
        && (!Attribute.TryGetProperty("step_scores", out var s) || s.EnumerateArray().All(x => NativeStepFunctions.Contains(x.GetString()!)))
        && (!Attribute.TryGetProperty("attributed_fn", out var f) || NativeStepFunctions.Contains(f.GetString()!));

    /// <summary>
    /// For layer_integrated_gradients / layer_deeplift, the non-layer case of the same call: Inseq 0.6 returns all
    /// zeros for these layer methods (baseline activations computed from the input ids), and on the embedding layer
    /// the correct values equal integrated_gradients / deeplift on the input embeddings.
    /// </summary>
    public ReferenceCase? ValueReference => Method switch
    {
        "layer_integrated_gradients" => Cases.SingleOrDefault(c => c.Id == Id.Replace("layer_integrated_gradients", "integrated_gradients", StringComparison.Ordinal)),
        "layer_deeplift" => Cases.SingleOrDefault(c => c.Id == Id.Replace("layer_deeplift", "deeplift", StringComparison.Ordinal)),
        _ => null,
    };

    public string OutputPath => Path.Combine(Root, OutputFile);

    public string AggregatedPath => Path.Combine(Root, AggregatedFile);

    /// <summary>The typed request equivalent to the Python call.</summary>
    public AttributionRequest ToRequest()
    {
        var a = Attribute;
        var methodArgs = new Dictionary<string, string>();
        string[] methodKeys = ["n_steps", "internal_batch_size", "method", "return_convergence_delta", "n_samples", "stdevs", .. PerturbationArgumentKeys];
        foreach (string key in methodKeys)
        {
            if (a.TryGetProperty(key, out var v))
            {
                methodArgs[key] = v.ValueKind == JsonValueKind.String ? v.GetString()! : v.GetRawText().ToLowerInvariant();
            }
        }

        if (a.TryGetProperty("attribution_args", out var explicitArgs))
        {
            foreach (var p in explicitArgs.EnumerateObject())
            {
                methodArgs[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText().ToLowerInvariant();
            }
        }

        // Inseq routes top-level keyword arguments by signature to the step scores and the attributed function;
        // step_scores_args / attributed_fn_args go to one side only.
        Dictionary<string, string> Collect(string? nested)
        {
            var args = new Dictionary<string, string>();
            foreach (string key in new[] { "logprob", "top_p", "top_k", "min_tokens_to_keep" })
            {
                if (a.TryGetProperty(key, out var v))
                {
                    args[key] = v.GetRawText().ToLowerInvariant();
                }
            }

            if (nested is not null && a.TryGetProperty(nested, out var n))
            {
                foreach (var p in n.EnumerateObject())
                {
                    args[p.Name] = p.Value.GetRawText().ToLowerInvariant();
                }
            }

            return args;
        }

        var stepArgs = Collect("step_scores_args");
        var fnArgs = Collect("attributed_fn_args");
        var generation = new GenerationArguments();
        if (a.TryGetProperty("generation_args", out var g))
        {
            generation = new GenerationArguments
            {
                MaxNewTokens = g.TryGetProperty("max_new_tokens", out var m) ? m.GetInt32() : null,
                DoSample = g.TryGetProperty("do_sample", out var d) ? d.GetBoolean() : null,
            };
        }

        string? attributedFn = a.TryGetProperty("attributed_fn", out var af) ? af.GetString() : null;
        return new AttributionRequest(a.GetProperty("input_texts").EnumerateArray().Select(x => x.GetString()!).ToList())
        {
            GeneratedTexts = a.TryGetProperty("generated_texts", out var gt) ? gt.EnumerateArray().Select(x => x.GetString()!).ToList() : null,
            Method = AttributionMethod.FromId(Method, methodArgs),
            StepScores = a.TryGetProperty("step_scores", out var ss) ? ss.EnumerateArray().Select(x => StepFunction.FromId(x.GetString()!, StepFunction.RouteArguments(x.GetString()!, stepArgs))).ToList() : [],
            AttributedFunction = attributedFn is null ? null : StepFunction.FromId(attributedFn, StepFunction.RouteArguments(attributedFn, fnArgs)),
            AttributeTarget = a.TryGetProperty("attribute_target", out var at) && at.GetBoolean(),
            AttrPosStart = a.TryGetProperty("attr_pos_start", out var ps) ? ps.GetInt32() : null,
            AttrPosEnd = a.TryGetProperty("attr_pos_end", out var pe) ? pe.GetInt32() : null,
            IncludeEosBaseline = a.TryGetProperty("include_eos_baseline", out var ie) && ie.GetBoolean(),
            Generation = generation,
            Contrast = Contrast(a),
            OutputStepAttributions = a.TryGetProperty("output_step_attributions", out var osa) && osa.GetBoolean(),
        };
    }

    private static ContrastOptions? Contrast(JsonElement a)
    {
        static List<string>? Texts(JsonElement a, string key) =>
            a.TryGetProperty(key, out var v) ? (v.ValueKind == JsonValueKind.String ? [v.GetString()!] : v.EnumerateArray().Select(x => x.GetString()!).ToList()) : null;
        var targets = Texts(a, "contrast_targets");
        var sources = Texts(a, "contrast_sources");
        if (targets is null && sources is null)
        {
            return null;
        }

        return new ContrastOptions
        {
            Targets = targets,
            Sources = sources,
            Alignments = a.TryGetProperty("contrast_targets_alignments", out var al) ? ContrastAlignments.Parse(al.GetRawText()) : null,
            ForceInputs = a.TryGetProperty("contrast_force_inputs", out var fi) && fi.GetBoolean(),
        };
    }

    public override string ToString() => Id.ToString(CultureInfo.InvariantCulture);
}
