using System.Globalization;
using System.Text.Json;
using InseqBridge.Attribution;

namespace InseqBridge.TorchSharp.Tests.Attribution;

/// <summary>One case of the parity manifest: the exact Python Inseq call and its saved outputs.</summary>
public sealed record ReferenceCase(string Id, string Model, string Method, JsonElement Attribute, string OutputFile, string AggregatedFile)
{
    private static readonly Lazy<List<ReferenceCase>> All = new(() =>
    {
        using JsonDocument doc = Fixtures.Json(Path.Combine(Fixtures.ParityDir, "manifest.json"));
        return doc.RootElement.GetProperty("cases").EnumerateArray()
            .Where(c => c.GetProperty("ok").GetBoolean())
            .Select(c => new ReferenceCase(
                c.GetProperty("id").GetString()!,
                c.GetProperty("model").GetString()!,
                c.GetProperty("method").GetString()!,
                c.GetProperty("attribute").Clone(),
                c.GetProperty("output_file").GetString()!,
                c.GetProperty("aggregated_file").GetString()!))
            .ToList();
    });

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
        .. PerturbationArgumentKeys,
    ];

    /// <summary>True when every argument of the call is one the native engine implements today.</summary>
    public bool IsSupported =>
        AttributionMethod.KnownIds.Contains(Method)
        && Attribute.EnumerateObject().All(p => NativeKeys.Contains(p.Name))
        && (!Attribute.TryGetProperty("step_scores", out var s) || s.EnumerateArray().All(x => x.GetString() is "probability" or "logit" or "entropy" or "crossentropy" or "perplexity" or "top_p_size"))
        && (!Attribute.TryGetProperty("attributed_fn", out var f) || f.GetString() is "probability" or "logit" or "entropy" or "crossentropy" or "perplexity");

    public string OutputPath => Path.Combine(Fixtures.ParityDir, OutputFile);

    public string AggregatedPath => Path.Combine(Fixtures.ParityDir, AggregatedFile);

    /// <summary>The typed request equivalent to the Python call.</summary>
    public AttributionRequest ToRequest()
    {
        var a = Attribute;
        var methodArgs = new Dictionary<string, string>();
        string[] methodKeys = ["n_steps", "internal_batch_size", "method", .. PerturbationArgumentKeys];
        foreach (string key in methodKeys)
        {
            if (a.TryGetProperty(key, out var v))
            {
                methodArgs[key] = v.ValueKind == JsonValueKind.String ? v.GetString()! : v.GetRawText();
            }
        }

        var stepArgs = new Dictionary<string, string>();
        foreach (string key in new[] { "logprob", "top_p" })
        {
            if (a.TryGetProperty(key, out var v))
            {
                stepArgs[key] = v.GetRawText().ToLowerInvariant();
            }
        }

        Dictionary<string, string> ArgsFor(string id) => id switch
        {
            "probability" => stepArgs.Where(kv => kv.Key == "logprob").ToDictionary(),
            "top_p_size" => stepArgs.Where(kv => kv.Key == "top_p").ToDictionary(),
            _ => [],
        };

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
            StepScores = a.TryGetProperty("step_scores", out var ss) ? ss.EnumerateArray().Select(x => StepFunction.FromId(x.GetString()!, ArgsFor(x.GetString()!))).ToList() : [],
            AttributedFunction = attributedFn is null ? null : StepFunction.FromId(attributedFn, ArgsFor(attributedFn)),
            AttributeTarget = a.TryGetProperty("attribute_target", out var at) && at.GetBoolean(),
            AttrPosStart = a.TryGetProperty("attr_pos_start", out var ps) ? ps.GetInt32() : null,
            AttrPosEnd = a.TryGetProperty("attr_pos_end", out var pe) ? pe.GetInt32() : null,
            IncludeEosBaseline = a.TryGetProperty("include_eos_baseline", out var ie) && ie.GetBoolean(),
            Generation = generation,
        };
    }

    public override string ToString() => Id.ToString(CultureInfo.InvariantCulture);
}
