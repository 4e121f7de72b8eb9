using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using InseqBridge.Aggregation;
using InseqBridge.Attribution;

namespace InseqBridge.Native.Tests.Attribution;

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

    private static readonly HashSet<string> NativeStepFunctions =
    [
        "probability", "logit", "entropy", "crossentropy", "perplexity", "top_p_size", "contrast_logits", "contrast_prob",
        "contrast_logits_diff", "contrast_prob_diff", "pcxmi", "kl_divergence", "in_context_pvi",
    ];

    /// <summary>True when the call parses (<see cref="InseqCallArguments.FromKwargs"/>, the parser the CLI's parity
    /// command uses) and every step function it names is one the native engine implements today.</summary>
    public bool IsSupported =>
        AttributionMethod.KnownIds.Contains(Method)
        && InseqCallArguments.FromKwargs(Method, AttributeObject, out _) is not null
        && (!Attribute.TryGetProperty("step_scores", out var s) || s.EnumerateArray().All(x => NativeStepFunctions.Contains(x.GetString()!)))
        && (!Attribute.TryGetProperty("attributed_fn", out var f) || NativeStepFunctions.Contains(f.GetString()!));

    /// <summary>The recorded keyword arguments as a mutable JSON object (a fresh copy each time).</summary>
    public JsonObject AttributeObject => JsonObject.Create(Attribute.Clone()) ?? [];

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

    /// <summary>The typed request equivalent to the Python call (read by the parser the CLI's parity command uses).</summary>
    public AttributionRequest ToRequest() => InseqCallArguments.Parse(Method, AttributeObject);

    public override string ToString() => Id.ToString(CultureInfo.InvariantCulture);
}
