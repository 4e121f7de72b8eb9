using InseqBridge.Aggregation;
using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Serialization;
using InseqBridge.Native.Attribution;
using Xunit.Abstractions;

namespace InseqBridge.Native.Tests.Attribution;

/// <summary>
/// Every reference case the native engine covers, against the JSON real Python Inseq 0.6 saved: same tokens and
/// ids, attr_pos, shapes; attributions and step scores within 1e-5 relative, with an absolute floor of 1e-5 times
/// the largest reference magnitude of that tensor (random-model values span 1e-6..1e-4, so a pure relative test
/// would demand more than fp32 gives); aggregated maps likewise.
/// </summary>
public class AttributionParityTests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, NativeAttributionModel> Models = [];

    public static TheoryData<string> SupportedCases() =>
        new(ReferenceCase.Cases.Where(c => c.IsSupported).Select(c => c.Id));

    internal static NativeAttributionModel Model(string name)
    {
        lock (Models)
        {
            if (!Models.TryGetValue(name, out var model))
            {
                model = NativeAttributionModel.Load(Fixtures.ModelDir(name), modelName: $"models/{name}");
                Models[name] = model;
            }

            return model;
        }
    }

    [Theory]
    [MemberData(nameof(SupportedCases))]
    public void Native_attribution_matches_python_inseq(string caseId)
    {
        ReferenceCase reference = ReferenceCase.Get(caseId);
        FeatureAttributionOutput actual = Model(reference.Model).Attribute(reference.ToRequest());
        FeatureAttributionOutput expected = InseqJson.Load(reference.OutputPath);
        string expectedAggregatedPath = reference.AggregatedPath;
        if (reference.ValueReference is ReferenceCase values)
        {
            // Inseq 0.6 computes the baseline's embedding-layer output from the real input ids (its forward ignores
            // the attributed tensor of layer methods), so layer IG / layer DeepLIFT are exactly zero there. The
            // correct values are those of the non-layer method on the same call, which the reference has too.
            AssertAllZero(expected, caseId);
            expected = InseqJson.Load(values.OutputPath);
            expectedAggregatedPath = values.AggregatedPath;
        }

        ParityTolerance tolerance = ParityTolerance.For(reference.Method, reference.Model);
        var stats = new ParityStats();
        double worst = Compare(expected, actual, caseId, tolerance, stats);
        FeatureAttributionOutput expectedAggregated = InseqJson.Load(expectedAggregatedPath);
        var aggregatedStats = new ParityStats();
        double worstAggregated = Compare(
            expectedAggregated, actual.Aggregate(reference.Aggregation), caseId + " (aggregated)", tolerance.Aggregated, aggregatedStats,
            reference.Aggregation.Length == 0 ? expected : null);
        output.WriteLine($"{caseId}: max relative diff raw {worst:E2}, aggregated {worstAggregated:E2}; max |diff| / max |ref| raw {stats.MaxScaled:E2}, aggregated {aggregatedStats.MaxScaled:E2}; max |diff| raw {stats.MaxAbsolute:E2}; min correlation raw {stats.MinCorrelation:F6}");
        Assert.Equal(expected.Info["attr_pos_start"]!.ToJsonString(), actual.Info["attr_pos_start"]!.ToJsonString());
        Assert.Equal(expected.Info["attr_pos_end"]!.ToJsonString(), actual.Info["attr_pos_end"]!.ToJsonString());
        Assert.Equal(expected.Info["generated_texts"]!.ToJsonString(), actual.Info["generated_texts"]!.ToJsonString());
        foreach (string key in new[] { "attributed_fn", "attributed_fn_args", "step_scores_args", "output_step_attributions" })
        {
            Assert.Equal(expected.Info[key]!.ToJsonString(), actual.Info[key]!.ToJsonString());
        }

        CompareSteps(expected, actual, caseId, tolerance);
    }

    /// <summary>The per-step outputs (output_step_attributions): tokens per row, tensors and scores.</summary>
    private static void CompareSteps(FeatureAttributionOutput expected, FeatureAttributionOutput actual, string label, ParityTolerance tolerance)
    {
        Assert.Equal(expected.StepAttributions is null, actual.StepAttributions is null);
        if (expected.StepAttributions is not { } steps)
        {
            return;
        }

        Assert.Equal(steps.Count, actual.StepAttributions!.Count);
        static IEnumerable<IEnumerable<(string, int)>>? Rows(IReadOnlyList<IReadOnlyList<TokenWithId>>? rows) =>
            rows?.Select(r => r.Select(t => (t.Token, t.Id)));

        // As for sequences, the floor is relative to the largest magnitude of the whole attributed sequence, not of
        // one step (whose values can sit orders of magnitude lower).
        static double Max(IEnumerable<NdArray?> arrays) =>
            arrays.OfType<NdArray>().SelectMany(x => x.ToArray()).Where(v => !float.IsNaN(v)).Select(v => (double)Math.Abs(v)).DefaultIfEmpty(0).Max();
        double sourceFloor = tolerance.FloorFraction * Max(steps.Select(x => x.SourceAttributions));
        double targetFloor = tolerance.FloorFraction * Max(steps.Select(x => x.TargetAttributions));
        for (int i = 0; i < steps.Count; i++)
        {
            FeatureAttributionStepOutput e = steps[i], a = actual.StepAttributions[i];
            string where = $"{label} step {i}";
            Assert.Equal(Rows(e.Prefix), Rows(a.Prefix));
            Assert.Equal(Rows(e.Target), Rows(a.Target));
            Assert.Equal(Rows(e.Source), Rows(a.Source));
            Assert.Equal(e.Kind, a.Kind);
            var stats = new ParityStats();
            CompareArrays(e.SourceAttributions, a.SourceAttributions, where + " source_attributions", tolerance, sourceFloor, stats);
            CompareArrays(e.TargetAttributions, a.TargetAttributions, where + " target_attributions", tolerance, targetFloor, stats);
            Assert.Equal(e.StepScores.Keys.Order(), a.StepScores.Keys.Order());
            foreach (string key in e.StepScores.Keys)
            {
                CompareArrays(e.StepScores[key], a.StepScores[key], $"{where} step_scores.{key}", ParityTolerance.Default, 0, stats);
            }
        }
    }

    private static void AssertAllZero(FeatureAttributionOutput reference, string label)
    {
        foreach (var sequence in reference.SequenceAttributions)
        {
            foreach (NdArray? array in new[] { sequence.SourceAttributions, sequence.TargetAttributions })
            {
                foreach (float v in array is null ? [] : array.Span.ToArray())
                {
                    Assert.True(float.IsNaN(v) || v == 0, $"{label}: the reference was expected to be all zero (Inseq 0.6 layer-baseline bug), found {v}");
                }
            }
        }
    }

    /// <summary>Compares two outputs element by element within the parity tolerance.</summary>
    /// <param name="expected">Python Inseq's output.</param>
    /// <param name="actual">Ours.</param>
    /// <param name="label">Case label for messages.</param>
    /// <param name="tolerance">The tolerance (default: 1e-5 relative with a 1e-5 floor).</param>
    /// <param name="stats">Collects the largest differences seen.</param>
    /// <param name="rawExpected">
    /// For aggregated outputs, the raw reference they come from: the raw tolerance is then propagated through the
    /// default aggregation (L2 norm over the hidden size, then division by the step's total), so a step whose raw
    /// attributions are orders of magnitude below the sequence maximum (e.g. the gradient of a difference of two
    /// nearly equal probabilities) is held to the accuracy its raw values actually have.
    /// </param>
    /// <returns>The largest element-wise relative difference.</returns>
    internal static double Compare(
        FeatureAttributionOutput expected, FeatureAttributionOutput actual, string label, ParityTolerance? tolerance = null, ParityStats? stats = null,
        FeatureAttributionOutput? rawExpected = null)
    {
        tolerance ??= ParityTolerance.Default;
        stats ??= new ParityStats();
        Assert.Equal(expected.SequenceAttributions.Count, actual.SequenceAttributions.Count);
        double worst = 0;
        for (int i = 0; i < expected.SequenceAttributions.Count; i++)
        {
            var e = expected.SequenceAttributions[i];
            var a = actual.SequenceAttributions[i];
            string where = $"{label} sequence {i}";
            Assert.Equal(e.Source.Select(t => (t.Token, t.Id)), a.Source.Select(t => (t.Token, t.Id)));
            Assert.Equal(e.Target.Select(t => (t.Token, t.Id)), a.Target.Select(t => (t.Token, t.Id)));
            Assert.True(e.AttrPosStart == a.AttrPosStart, $"{where}: attr_pos_start {a.AttrPosStart}, expected {e.AttrPosStart}");
            Assert.True(e.AttrPosEnd == a.AttrPosEnd, $"{where}: attr_pos_end {a.AttrPosEnd}, expected {e.AttrPosEnd}");
            Assert.Equal(e.Kind, a.Kind);
            double extraFloor = tolerance.AbsoluteFloor?.Invoke(e) ?? 0;
            double[]? stepFloor = rawExpected is null ? null : PropagatedStepFloor(rawExpected.SequenceAttributions[i]);
            worst = Math.Max(worst, CompareArrays(e.SourceAttributions, a.SourceAttributions, where + " source_attributions", tolerance, extraFloor, stats, stepFloor));
            worst = Math.Max(worst, CompareArrays(e.TargetAttributions, a.TargetAttributions, where + " target_attributions", tolerance, extraFloor, stats, stepFloor));
            foreach (string key in a.SequenceScores.Keys)
            {
                Assert.True(e.SequenceScores.ContainsKey(key), $"{where}: unexpected sequence score {key}");
                worst = Math.Max(worst, CompareArrays(e.SequenceScores[key], a.SequenceScores[key], $"{where} sequence_scores.{key}", tolerance, extraFloor, stats));
            }

            Assert.Equal(e.SequenceScores.Keys.Order(), a.SequenceScores.Keys.Order());
            Assert.Equal(e.StepScores.Keys.Order(), a.StepScores.Keys.Order());
            foreach (string key in e.StepScores.Keys)
            {
                // KL divergence, P-CXMI and in-context PVI are differences of log-probabilities: their error follows
                // the absolute error of the log-probabilities (fp32, magnitude ~ln V ≈ 10), not their own (often
                // tiny) value, hence an absolute floor.
                double absolute = key switch
                {
                    "kl_divergence" or "pcxmi" or "in_context_pvi" => LogDifferenceTolerance,

                    // Convergence deltas are completeness errors, i.e. fp32 rounding noise here: the reference's own
                    // deltas reach 3e-5 of the summed |attributions| (Σ of hundreds of fp32 terms minus a difference
                    // of two forward passes), so they are held to 1e-4 of that sum.
                    "deltas" => DeltaTolerance * (AbsoluteSum(e.SourceAttributions) + AbsoluteSum(e.TargetAttributions)),
                    _ => 0,
                };
                worst = Math.Max(worst, CompareArrays(e.StepScores[key], a.StepScores[key], $"{where} step_scores.{key}", ParityTolerance.Default, absolute, new ParityStats()));
            }
        }

        return worst;
    }

    private static double AbsoluteSum(NdArray? array)
    {
        double sum = 0;
        foreach (float v in array is null ? [] : array.Span)
        {
            sum += float.IsNaN(v) ? 0 : Math.Abs(v);
        }

        return sum;
    }

    /// <summary>Tolerance of convergence deltas, relative to the summed absolute attributions of the sequence.</summary>
    internal const double DeltaTolerance = 1e-4;

    /// <summary>Absolute tolerance for step scores that are differences of log-probabilities (nats or bits).</summary>
    internal const double LogDifferenceTolerance = 5e-6;

    /// <summary>
    /// Per generated step, the raw absolute tolerance (1e-5 of the raw maximum, per element) carried through the L2
    /// norm over the hidden size and the division by the step's total: 2·sqrt(D)·floor / total. Null when the raw
    /// output is not [positions, steps, hidden].
    /// </summary>
    private static double[]? PropagatedStepFloor(FeatureAttributionSequenceOutput raw)
    {
        NdArray?[] parts = [raw.SourceAttributions, raw.TargetAttributions];
        if (parts.Any(p => p is not null && p.Shape.Count != 3) || parts.All(p => p is null))
        {
            return null;
        }

        int steps = parts.First(p => p is not null)!.Shape[1];
        int hidden = parts.First(p => p is not null)!.Shape[2];
        double max = 0;
        var totals = new double[steps];
        foreach (NdArray part in parts.OfType<NdArray>())
        {
            for (int position = 0; position < part.Shape[0]; position++)
            {
                for (int step = 0; step < steps; step++)
                {
                    double norm = 0;
                    for (int d = 0; d < hidden; d++)
                    {
                        float v = part[position, step, d];
                        if (!float.IsNaN(v))
                        {
                            norm += (double)v * v;
                            max = Math.Max(max, Math.Abs(v));
                        }
                    }

                    totals[step] += Math.Sqrt(norm);
                }
            }
        }

        return totals.Select(t => t == 0 ? 0 : 2 * Math.Sqrt(hidden) * ParityTolerance.Default.FloorFraction * max / t).ToArray();
    }

    private static double CompareArrays(
        NdArray? expected, NdArray? actual, string where, ParityTolerance tolerance, double extraFloor, ParityStats stats, double[]? stepFloor = null)
    {
        if (expected is null)
        {
            Assert.True(actual is null, $"{where}: expected null");
            return 0;
        }

        Assert.True(actual is not null, $"{where}: missing");
        Assert.Equal(expected.Shape, actual!.Shape);
        ReadOnlySpan<float> e = expected.Span, a = actual.Span;
        double scale = 0;
        foreach (float v in e)
        {
            if (!float.IsNaN(v))
            {
                scale = Math.Max(scale, Math.Abs(v));
            }
        }

        double floor = Math.Max(tolerance.FloorFraction * scale, extraFloor), worst = 0, worstAbsolute = 0;
        for (int i = 0; i < e.Length; i++)
        {
            Assert.True(float.IsNaN(e[i]) == float.IsNaN(a[i]), $"{where}[{i}]: NaN pattern differs ({a[i]} vs {e[i]})");
            if (float.IsNaN(e[i]))
            {
                continue;
            }

            double diff = Math.Abs((double)a[i] - e[i]);
            double allowed = (tolerance.Relative * Math.Abs(e[i])) + floor;
            if (stepFloor is not null && expected.Shape.Count == 2)
            {
                allowed += stepFloor[i % expected.Shape[1]];
            }

            Assert.True(diff <= allowed, $"{where}[{i}]: {a[i]:E6} vs {e[i]:E6} (|diff| {diff:E2} > {allowed:E2})");
            worst = Math.Max(worst, diff / Math.Max(Math.Abs(e[i]), floor == 0 ? 1e-30 : floor));
            worstAbsolute = Math.Max(worstAbsolute, diff);
        }

        double correlation = Correlation(e, a);
        stats.Add(worstAbsolute, scale, correlation);
        if (tolerance.MinimumCorrelation is double minimum)
        {
            Assert.True(correlation >= minimum, $"{where}: correlation with the reference {correlation:F6} < {minimum}");
        }

        return worst;
    }

    /// <summary>Pearson correlation over the cells that are finite in both (1 for constant or tiny arrays).</summary>
    private static double Correlation(ReadOnlySpan<float> e, ReadOnlySpan<float> a)
    {
        var pairs = new List<(double E, double A)>();
        for (int i = 0; i < e.Length; i++)
        {
            if (!float.IsNaN(e[i]) && !float.IsNaN(a[i]))
            {
                pairs.Add((e[i], a[i]));
            }
        }

        if (pairs.Count < 3)
        {
            return 1;
        }

        double me = pairs.Average(p => p.E), ma = pairs.Average(p => p.A);
        double cov = pairs.Sum(p => (p.E - me) * (p.A - ma));
        double ve = pairs.Sum(p => (p.E - me) * (p.E - me)), va = pairs.Sum(p => (p.A - ma) * (p.A - ma));
        return ve == 0 || va == 0 ? 1 : cov / Math.Sqrt(ve * va);
    }
}

/// <summary>Largest differences seen by a comparison.</summary>
public sealed class ParityStats
{
    /// <summary>Largest |actual - expected| of any cell.</summary>
    public double MaxAbsolute { get; private set; }

    /// <summary>Largest |actual - expected| / max |expected| of any array.</summary>
    public double MaxScaled { get; private set; }

    /// <summary>Smallest correlation of any array with its reference.</summary>
    public double MinCorrelation { get; private set; } = 1;

    internal void Add(double absolute, double scale, double correlation)
    {
        MaxAbsolute = Math.Max(MaxAbsolute, absolute);
        MaxScaled = Math.Max(MaxScaled, scale == 0 ? 0 : absolute / scale);
        MinCorrelation = Math.Min(MinCorrelation, correlation);
    }
}

/// <summary>
/// How close an attribution must be to the reference: |actual - expected| ≤ Relative·|expected| + max(FloorFraction ·
/// max|expected| of the array, AbsoluteFloor(sequence)), plus an optional correlation check.
/// </summary>
/// <param name="Relative">Relative part.</param>
/// <param name="FloorFraction">Absolute floor as a fraction of the array's largest magnitude.</param>
/// <param name="AbsoluteFloor">Method-specific absolute floor computed from the reference sequence.</param>
/// <param name="MinimumCorrelation">Smallest Pearson correlation allowed between actual and reference arrays.</param>
/// <param name="CorrelateAggregated">Whether the correlation check applies to the aggregated maps too.</param>
public sealed record ParityTolerance(
    double Relative,
    double FloorFraction,
    Func<FeatureAttributionSequenceOutput, double>? AbsoluteFloor = null,
    double? MinimumCorrelation = null,
    bool CorrelateAggregated = true)
{
    /// <summary>The tolerance for the aggregated maps.</summary>
    public ParityTolerance Aggregated => CorrelateAggregated ? this : this with { MinimumCorrelation = null };

    /// <summary>1e-5 relative with a floor of 1e-5 of the largest magnitude: what fp32 with another BLAS gives.</summary>
    public static ParityTolerance Default { get; } = new(1e-5, 1e-5);

    /// <summary>The tolerance of a method on a model (see the comments for the ill-conditioned ones).</summary>
    public static ParityTolerance For(string method, string model) => method switch
    {
        // Occlusion scores are differences of two float32 probabilities (often ~1e-8 apart on these random models):
        // allow a few float32 ulps of the probability itself (1e-5 x the step's probability is ~80 ulps). Measured
        // worst |diff| 2.9e-10 (marian), i.e. < 1e-6 x the probability.
        "occlusion" => new(1e-5, 1e-5, MaxStepProbability),

        // Value zeroing is 1 - cosine of nearly equal states, cut at 1e-5, then each position normalised: fp32 rounding
        // moves cells near the cut-off and the normalisation spreads it (DESIGN measured up to ~8e-3 with another BLAS).
        // Scores lie in [0, 1]; measured worst |diff| 3.7e-3 (marian), 8e-4 (bart), < 6e-5 for the other models.
        "value_zeroing" => new(1e-5, 0, _ => 1e-2, MinimumCorrelation: 0.9999),

        // LIME: the samples are the reference's (same torch stream, checked against PyTorch in PerturbationMethodTests)
        // and the ridge solver matches scikit-learn to 1e-14, but the coefficients amplify fp32 rounding of the model
        // outputs: they vary by ~2e-4 relative across samples, so a 1e-7 relative change of the outputs moves the
        // coefficients by ~8e-4 of their largest value (measured with scikit-learn on marian's first step; our
        // difference there is 7.9e-4). Decoder-only models are worse: Inseq fills dropped embeddings with the mask token
        // id (50256), whose float32 residual stream quantises the small updates, so the outputs depend on the kernels'
        // rounding (measured worst 0.43 of the largest value, correlation >= 0.917; the aggregated maps of the short
        // second sequence correlate at 0.71 only, so only their magnitude is checked). Encoder-decoders: worst 2.8e-3.
        "lime" when model is "bart" or "marian" => new(1e-5, 1e-2, MinimumCorrelation: 0.9999),
        "lime" => new(1e-5, 0.6, MinimumCorrelation: 0.9, CorrelateAggregated: false),
        _ => Default,
    };

    private static double MaxStepProbability(FeatureAttributionSequenceOutput sequence) =>
        1e-5 * (sequence.StepScores.TryGetValue("probability", out NdArray? p) ? p.ToArray().Where(v => !float.IsNaN(v)).DefaultIfEmpty(0f).Max() : 0);
}
