using System.Text.Json.Nodes;
using InseqBridge.Attribution;
using InseqBridge.Attribution.Context;
using InseqBridge.Serialization;
using InseqBridge.Tokenizers;
using InseqBridge.Native.Attribution;

namespace InseqBridge.Native.Tests.Attribution;

/// <summary>
/// Context attribution (PECoRe) against Inseq 0.6.0's own <c>attribute_context</c> on the tiny parity models
/// (tests/fixtures/reference-context, written by its generate.py): same context-sensitive tokens, same cited context
/// tokens, scores within the fp32 parity tolerances, same <c>info</c>.
/// </summary>
public class ContextAttributionParityTests
{
    /// <summary>Where the reference files are.</summary>
    public static string ReferenceDir => Path.Combine(Fixtures.RepositoryRoot, "tests", "fixtures", "reference-context");

    private static JsonObject Manifest() => (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(ReferenceDir, "manifest.json")))!;

    /// <summary>The case ids.</summary>
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var (id, _) in (JsonObject)Manifest()["cases"]!)
        {
            data.Add(id);
        }

        return data;
    }

    /// <summary>The request, and loaded model, a reference case describes (its Python arguments mapped one to one).</summary>
    internal static (NativeAttributionModel Model, AttributeContextRequest Request) Build(JsonObject args, string savePath)
    {
        string? S(string key) => args[key]?.GetValue<string>();
        double? D(string key) => args[key]?.GetValue<double>();
        int? I(string key) => args[key]?.GetValue<int>();
        string modelPath = S("model_name_or_path")!;
        bool slow = args["tokenizer_kwargs"] is JsonObject tk && tk["use_fast"]?.GetValue<bool>() == false;
        string method = S("attribution_method") ?? "saliency";
        var model = NativeAttributionModel.Load(Path.Combine(Fixtures.RepositoryRoot, modelPath), AttributionMethod.FromId(method), modelPath,
            slow ? TokenizerKind.Slow : TokenizerKind.Auto);
        var generationJson = args["generation_kwargs"] as JsonObject ?? new JsonObject();
        var options = new AttributeContextOptions
        {
            ContextSensitivityMetric = S("context_sensitivity_metric") ?? "kl_divergence",
            HandleOutputContextStrategy = S("handle_output_context_strategy") switch
            {
                "pre" => OutputContextStrategy.Pre,
                "auto" => OutputContextStrategy.Auto,
                _ => OutputContextStrategy.Manual,
            },
            ContextSensitivityStdThreshold = args.ContainsKey("context_sensitivity_std_threshold") ? D("context_sensitivity_std_threshold") : 1.0,
            ContextSensitivityTopK = I("context_sensitivity_topk"),
            AttributionStdThreshold = args.ContainsKey("attribution_std_threshold") ? D("attribution_std_threshold") : 1.0,
            AttributionTopK = I("attribution_topk"),
            AttributedFn = S("attributed_fn"),
            AttributionMethod = method,
            Generation = GenerationArguments.FromJson((JsonObject)generationJson.DeepClone()),
            NormalizeAttributions = args["normalize_attributions"]?.GetValue<bool>() ?? false,
            DecoderInputOutputSeparator = S("decoder_input_output_separator") ?? " ",
            SpecialTokensToKeep = args["special_tokens_to_keep"]?.AsArray().Select(n => n!.GetValue<string>()).ToList() ?? [],
            ContextlessOutputNextTokens = args["contextless_output_next_tokens"]?.AsArray().Select(n => n!.GetValue<string>()).ToList() ?? [],
            AddOutputInfo = args["add_output_info"]?.GetValue<bool>() ?? true,
            AttributionKwargs = (args["attribution_kwargs"] as JsonObject ?? []).ToDictionary(
                kv => kv.Key, kv => kv.Value is JsonValue v && v.TryGetValue(out string? text) ? text : kv.Value!.ToJsonString()),
        };
        var request = new AttributeContextRequest(S("input_current_text")!)
        {
            InputContextText = S("input_context_text"),
            InputTemplate = S("input_template"),
            OutputContextText = S("output_context_text"),
            OutputCurrentText = S("output_current_text"),
            OutputTemplate = S("output_template"),
            ContextlessInputCurrentText = S("contextless_input_current_text"),
            ContextlessOutputCurrentText = S("contextless_output_current_text"),
            Options = options,
            ModelNameOrPath = modelPath,
            ExtraInfo = new JsonObject
            {
                ["save_path"] = savePath,
                ["show_viz"] = false,
                ["tokenizer_kwargs"] = args["tokenizer_kwargs"]?.DeepClone() ?? new JsonObject(),
                ["generation_kwargs"] = generationJson.DeepClone(),
                ["attribution_kwargs"] = args["attribution_kwargs"]?.DeepClone() ?? new JsonObject(),
            },
        };
        return (model, request);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task MatchesInseq(string id)
    {
        var entry = (JsonObject)Manifest()["cases"]![id]!;
        var args = (JsonObject)entry["args"]!;
        string savePath = $"tests/fixtures/reference-context/{id}.json";
        var (model, request) = Build(args, savePath);
        using var owned = model;
        var context = new NativeContextModel(model);
        if (entry["error"] is JsonNode error)
        {
            // Inseq raises here (its own check); the port must refuse the same request with a typed one-line error.
            var e = await Assert.ThrowsAsync<ContextAttributionException>(() => context.AttributeContextAsync(request));
            Assert.Contains("ValueError", error.GetValue<string>());
            Assert.DoesNotContain('\n', e.Message);
            return;
        }

        AttributeContextOutput actual = await context.AttributeContextAsync(request);
        AttributeContextOutput expected = AttributeContextJson.Load(Path.Combine(ReferenceDir, id + ".json"));
        string metric = request.Options.ContextSensitivityMetric;
        bool logDifference = metric is "kl_divergence" or "pcxmi" or "in_context_pvi";
        if (expected.CtiScores!.All(v => Math.Abs(v) < NoiseLevel))
        {
            // Source-side context barely reaches the decoder of these random tiny encoder-decoders: Inseq's own scores
            // are float32 noise (negative KL divergences), so which tokens pass the threshold is noise too. Only the
            // texts, tokens and the noise level of the scores are compared.
            Assert.Equal(expected.OutputCurrentTokens, actual.OutputCurrentTokens);
            Assert.Equal(expected.OutputCurrent, actual.OutputCurrent);
            Assert.All(actual.CtiScores!, v => Assert.True(Math.Abs(v) < NoiseLevel, $"{id}: CTI score {v} is above the reference's noise level"));
            return;
        }
        Assert.Equal(expected.InputContext, actual.InputContext);
        Assert.Equal(expected.InputContextTokens, actual.InputContextTokens);
        Assert.Equal(expected.OutputContext, actual.OutputContext);
        Assert.Equal(expected.OutputContextTokens, actual.OutputContextTokens);
        Assert.Equal(expected.OutputCurrent, actual.OutputCurrent);
        Assert.Equal(expected.OutputCurrentTokens, actual.OutputCurrentTokens);
        double ctiAbsolute = logDifference ? AttributionParityTests.LogDifferenceTolerance : 0;
        AssertClose(expected.CtiScores!, actual.CtiScores!, $"{id} cti_scores", ctiAbsolute);
        double threshold = entry["cti_threshold"]!.GetValue<double>();
        Assert.Equal(threshold, actual.CtiThreshold!.Value, (1e-5 * Math.Abs(threshold)) + (logDifference ? AttributionParityTests.LogDifferenceTolerance : 1e-9));

        // The same context-sensitive tokens, in the same order, except that a token whose reference score lies within
        // the score tolerance of the threshold (or of a top-k cut) may fall on either side: float32 noise decides it.
        var borderline = BorderlineTokens(expected.CtiScores!, threshold, request.Options.ContextSensitivityTopK, ctiAbsolute);
        var differing = expected.CciScores.Select(c => c.CtiIdx).ToHashSet();
        differing.SymmetricExceptWith(actual.CciScores.Select(c => c.CtiIdx));
        Assert.True(differing.IsSubsetOf(borderline), $"{id}: context-sensitive tokens differ at [{string.Join(", ", differing.Except(borderline))}] (reference {string.Join(", ", expected.CciScores.Select(c => c.CtiIdx))}; got {string.Join(", ", actual.CciScores.Select(c => c.CtiIdx))})");
        var expectedCci = expected.CciScores.Where(c => !differing.Contains(c.CtiIdx)).ToList();
        var actualCci = actual.CciScores.Where(c => !differing.Contains(c.CtiIdx)).ToList();
        Assert.Equal(expectedCci.Select(c => (c.CtiIdx, c.CtiToken)), actualCci.Select(c => (c.CtiIdx, c.CtiToken)));
        for (int i = 0; i < expectedCci.Count; i++)
        {
            CciOutput e = expectedCci[i], a = actualCci[i];
            Assert.Equal(e.ContextualOutput, a.ContextualOutput);
            Assert.Equal(e.ContextlessOutput, a.ContextlessOutput);
            Assert.Equal(e.CtiScore, a.CtiScore, 1e-5 * Math.Abs(e.CtiScore) + 5e-6);
            // Inseq's console view appends the other context's scores to each list in place (before saving) when both
            // contexts exist; the first entries are the scores themselves.
            AssertScores(Head(e.InputContextScores, expected.InputContextTokens), a.InputContextScores, $"{id} cci[{i}].input_context_scores", request.Options.AttributionStdThreshold, request.Options.AttributionTopK);
            AssertScores(Head(e.OutputContextScores, expected.OutputContextTokens), a.OutputContextScores, $"{id} cci[{i}].output_context_scores", request.Options.AttributionStdThreshold, request.Options.AttributionTopK);
        }

        if (expected.Info is null)
        {
            Assert.Null(actual.Info);
        }
        else
        {
            string wanted = PythonJson(expected.Info);
            Assert.Equal(wanted, PythonJson(actual.Info!));
            if (differing.Count == 0 && entry["console"] is JsonValue console)
            {
                // The report Inseq printed (scores shown to 3 decimals).
                string printed = InseqBridge.Visualization.ContextAttributionView.RenderPlain(InseqBridge.Visualization.ContextAttributionView.Build(actual));
                Assert.Equal(console.GetValue<string>().TrimEnd('\n'), printed.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd('\n'));
            }
        }
    }

    /// <summary>Output positions whose reference CTI score is as close to the selection cut (the threshold, or the
    /// k-th highest score when a top-k applies) as the parity tolerance allows.</summary>
    private static HashSet<int> BorderlineTokens(IReadOnlyList<double> scores, double threshold, int? topK, double absolute)
    {
        double scale = scores.Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max();
        double Allowed(double v) => (2 * 1e-5 * Math.Abs(v)) + (2 * Math.Max(1e-5 * scale, absolute));
        var cuts = new List<double> { threshold };
        if (topK is int k && k > 0 && k < scores.Count)
        {
            // The k-th and (k+1)-th highest scores: only when they are that close can the top-k cut differ.
            var sorted = scores.OrderDescending().ToList();
            if (sorted[k - 1] - sorted[k] <= Allowed(sorted[k]))
            {
                cuts.Add(sorted[k]);
            }
        }

        var result = new HashSet<int>();
        for (int i = 0; i < scores.Count; i++)
        {
            if (cuts.Any(cut => Math.Abs(scores[i] - cut) <= Allowed(scores[i])))
            {
                result.Add(i);
            }
        }

        return result;
    }

    /// <summary>Absolute CTI score under which the Python reference is float32 noise (it has negative KL values there).</summary>
    private const double NoiseLevel = 1e-5;

    private static List<double>? Head(IReadOnlyList<double>? scores, IReadOnlyList<string>? tokens) =>
        scores is null ? null : scores.Take(tokens?.Count ?? scores.Count).ToList();

    private static string PythonJson(JsonObject info) =>
        AttributeContextJson.Serialize(new AttributeContextOutput { Info = info });

    private static void AssertScores(IReadOnlyList<double>? expected, IReadOnlyList<double>? actual, string label, double? std, int? topK)
    {
        if (expected is null)
        {
            Assert.Null(actual);
            return;
        }

        Assert.NotNull(actual);
        AssertClose(expected, actual, label, 0);

        // The cited context tokens (the cues the views show) are the same.
        var tokens = expected.Select((_, i) => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var e = ContextTokenSelection.FilterRank(tokens, expected, std, topK).Ranked.Select(r => r.Index).Order();
        var a = ContextTokenSelection.FilterRank(tokens, actual, std, topK).Ranked.Select(r => r.Index).Order();
        Assert.Equal(e, a);
    }

    private static void AssertClose(IReadOnlyList<double> expected, IReadOnlyList<double> actual, string label, double absolute)
    {
        Assert.Equal(expected.Count, actual.Count);
        double scale = expected.Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max();
        for (int i = 0; i < expected.Count; i++)
        {
            if (double.IsNaN(expected[i]))
            {
                Assert.True(double.IsNaN(actual[i]), $"{label}[{i}]: expected NaN, got {actual[i]}");
                continue;
            }

            double allowed = (1e-5 * Math.Abs(expected[i])) + Math.Max(1e-5 * scale, absolute);
            Assert.True(Math.Abs(expected[i] - actual[i]) <= allowed, $"{label}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (allowed {allowed:G3})");
        }
    }
}
