using System.Globalization;
using InseqBridge.Data;

namespace InseqBridge.Parity;

/// <summary>
/// Element-wise tolerance: a cell passes when <c>|actual - reference| &lt;= Relative * |reference| + max(Floor * max|reference|, Absolute)</c>,
/// the maximum taken over the finite cells of the same reference tensor. Random-model values span 1e-6..1e-4, so a
/// pure relative test would demand more than fp32 gives; the floor scales with each tensor's magnitude.
/// </summary>
/// <param name="Relative">Relative part (default 1e-5).</param>
/// <param name="Floor">Absolute floor as a fraction of the tensor's largest reference magnitude (default 1e-5).</param>
/// <param name="Absolute">Absolute floor in the units of the values (default 0: none).</param>
public sealed record ParityTolerance(double Relative = 1e-5, double Floor = 1e-5, double Absolute = 0)
{
    /// <summary>The tolerance of the engine's parity tests (1e-5 relative, floor 1e-5 of the largest magnitude).</summary>
    public static ParityTolerance Default { get; } = new();

    /// <summary>
    /// The tolerance of method <paramref name="methodId"/>: <see cref="Default"/> except for the methods whose outputs
    /// amplify float32 rounding (measured against Python Inseq 0.6 on the fixture models; DESIGN.md has the analysis).
    /// </summary>
    /// <param name="methodId">Inseq method id.</param>
    /// <param name="encoderDecoder">Whether the model is an encoder-decoder (LIME is far better conditioned there).</param>
    public static ParityTolerance For(string methodId, bool encoderDecoder) => methodId switch
    {
        // Differences of two float32 probabilities: a few ulps of a probability (worst measured 2.9e-10).
        "occlusion" => new(1e-5, 1e-5, 1e-7),

        // 1 - cosine of nearly equal states, cut at 1e-5 and normalised per position; scores lie in [0, 1]
        // (worst measured 3.7e-3).
        "value_zeroing" => new(1e-5, 0, 1e-2),

        // Ridge coefficients amplify the rounding of the model outputs (worst measured 2.8e-3 of the largest value on
        // encoder-decoders, 0.43 on decoder-only models, whose masked embeddings quantise the residual stream).
        "lime" => encoderDecoder ? new(1e-5, 1e-2) : new(1e-5, 0.6),
        _ => Default,
    };

    /// <summary>Short description, e.g. <c>1e-05*|ref| + 1e-05*max|ref|</c>.</summary>
    public override string ToString() => Absolute > 0
        ? string.Create(CultureInfo.InvariantCulture, $"{Relative:0.##E+0}*|ref| + max({Floor:0.##E+0}*max|ref|, {Absolute:0.##E+0})")
        : string.Create(CultureInfo.InvariantCulture, $"{Relative:0.##E+0}*|ref| + {Floor:0.##E+0}*max|ref|");
}

/// <summary>Result of comparing one output with its reference.</summary>
/// <param name="MaxAbsoluteDifference">Largest |actual - reference| over every compared cell (finite reference cells).</param>
/// <param name="MaxRelativeDifference">Largest |actual - reference| / (|reference| + max|reference|) over every compared cell,
/// the maximum taken per tensor: the difference in the units of the tolerance (with the default tolerance a cell passes
/// when this is at most 1e-5).</param>
/// <param name="Violations">What failed (structure or tolerance), at most a few dozen messages; empty when it passed.</param>
/// <param name="ComparedValues">Number of cells compared.</param>
public sealed record ParityResult(double MaxAbsoluteDifference, double MaxRelativeDifference, IReadOnlyList<string> Violations, long ComparedValues)
{
    /// <summary>True when nothing failed.</summary>
    public bool Passed => Violations.Count == 0;
}

/// <summary>
/// Compares two <see cref="FeatureAttributionOutput"/>s the way the parity tests and <c>inseq-bridge parity</c> do:
/// same sequences, tokens and ids, attribution positions and kinds; same step/sequence score keys; same shapes and
/// NaN patterns; every finite value within <see cref="ParityTolerance"/>.
/// </summary>
public static class ParityComparer
{
    private const int MaxViolations = 20;

    /// <summary>Compares <paramref name="actual"/> with <paramref name="reference"/>.</summary>
    /// <param name="reference">The reference output (e.g. saved by Python Inseq).</param>
    /// <param name="actual">The output under test.</param>
    /// <param name="tolerance">Tolerance; null: <see cref="ParityTolerance.Default"/>.</param>
    /// <param name="ignoredReferenceSequenceScores">Sequence score keys the reference may have and the actual output
    /// may lack (known gaps); they are not compared.</param>
    public static ParityResult Compare(
        FeatureAttributionOutput reference,
        FeatureAttributionOutput actual,
        ParityTolerance? tolerance = null,
        IReadOnlyCollection<string>? ignoredReferenceSequenceScores = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(actual);
        tolerance ??= ParityTolerance.Default;
        ignoredReferenceSequenceScores ??= [];
        var state = new State(tolerance);
        if (reference.SequenceAttributions.Count != actual.SequenceAttributions.Count)
        {
            state.Fail($"{actual.SequenceAttributions.Count} sequences, reference has {reference.SequenceAttributions.Count}");
            return state.Result();
        }

        for (int i = 0; i < reference.SequenceAttributions.Count; i++)
        {
            var e = reference.SequenceAttributions[i];
            var a = actual.SequenceAttributions[i];
            string where = $"sequence {i}";
            CompareTokens(state, $"{where} source", e.Source, a.Source);
            CompareTokens(state, $"{where} target", e.Target, a.Target);
            if (e.AttrPosStart != a.AttrPosStart || e.AttrPosEnd != a.AttrPosEnd)
            {
                state.Fail($"{where}: attr_pos {a.AttrPosStart}..{a.AttrPosEnd}, reference {e.AttrPosStart}..{e.AttrPosEnd}");
            }

            if (e.Kind != a.Kind)
            {
                state.Fail($"{where}: kind {a.Kind}, reference {e.Kind}");
            }

            state.Arrays(e.SourceAttributions, a.SourceAttributions, $"{where} source_attributions");
            state.Arrays(e.TargetAttributions, a.TargetAttributions, $"{where} target_attributions");
            CompareScores(state, $"{where} step_scores", e.StepScores, a.StepScores, []);
            CompareScores(state, $"{where} sequence_scores", e.SequenceScores, a.SequenceScores, ignoredReferenceSequenceScores);
        }

        return state.Result();
    }

    private static void CompareTokens(State state, string where, IReadOnlyList<TokenWithId> e, IReadOnlyList<TokenWithId> a)
    {
        if (!e.Select(t => (t.Token, t.Id)).SequenceEqual(a.Select(t => (t.Token, t.Id))))
        {
            state.Fail($"{where} tokens [{string.Join(" ", a.Select(t => $"{t.Token}({t.Id})"))}], reference [{string.Join(" ", e.Select(t => $"{t.Token}({t.Id})"))}]");
        }
    }

    private static void CompareScores(
        State state, string where, IReadOnlyDictionary<string, NdArray> e, IReadOnlyDictionary<string, NdArray> a, IReadOnlyCollection<string> ignored)
    {
        var expectedKeys = e.Keys.Where(k => !(ignored.Contains(k) && !a.ContainsKey(k))).Order(StringComparer.Ordinal).ToList();
        var actualKeys = a.Keys.Order(StringComparer.Ordinal).ToList();
        if (!expectedKeys.SequenceEqual(actualKeys))
        {
            state.Fail($"{where} keys [{string.Join(", ", actualKeys)}], reference [{string.Join(", ", expectedKeys)}]");
            return;
        }

        foreach (string key in expectedKeys)
        {
            state.Arrays(e[key], a[key], $"{where}.{key}");
        }
    }

    private sealed class State(ParityTolerance tolerance)
    {
        private readonly List<string> _violations = [];
        private double _maxAbs;
        private double _maxRel;
        private long _count;

        public void Fail(string message)
        {
            if (_violations.Count < MaxViolations)
            {
                _violations.Add(message);
            }
            else if (_violations.Count == MaxViolations)
            {
                _violations.Add("(more violations not listed)");
            }
        }

        public ParityResult Result() => new(_maxAbs, _maxRel, _violations.ToList(), _count);

        public void Arrays(NdArray? expected, NdArray? actual, string where)
        {
            if (expected is null || actual is null)
            {
                if ((expected is null) != (actual is null))
                {
                    Fail($"{where}: {(actual is null ? "missing" : "present")}, reference {(expected is null ? "has none" : "has one")}");
                }

                return;
            }

            if (!expected.Shape.SequenceEqual(actual.Shape))
            {
                Fail($"{where}: shape [{string.Join(", ", actual.Shape)}], reference [{string.Join(", ", expected.Shape)}]");
                return;
            }

            ReadOnlySpan<float> e = expected.Span, a = actual.Span;
            double scale = 0;
            foreach (float v in e)
            {
                if (float.IsFinite(v))
                {
                    scale = Math.Max(scale, Math.Abs(v));
                }
            }

            double floor = Math.Max(tolerance.Floor * scale, tolerance.Absolute);
            int reported = 0;
            for (int i = 0; i < e.Length; i++)
            {
                if (float.IsNaN(e[i]) != float.IsNaN(a[i]))
                {
                    if (reported++ < 3)
                    {
                        Fail(string.Create(CultureInfo.InvariantCulture, $"{where}[{i}]: NaN pattern differs ({a[i]:G6} vs reference {e[i]:G6})"));
                    }

                    continue;
                }

                if (!float.IsFinite(e[i]))
                {
                    if (!float.IsNaN(e[i]) && !e[i].Equals(a[i]) && reported++ < 3)
                    {
                        Fail(string.Create(CultureInfo.InvariantCulture, $"{where}[{i}]: {a[i]:G6} vs reference {e[i]:G6}"));
                    }

                    continue;
                }

                _count++;
                double diff = Math.Abs((double)a[i] - e[i]);
                double allowed = (tolerance.Relative * Math.Abs(e[i])) + floor;
                _maxAbs = Math.Max(_maxAbs, diff);
                double denominator = Math.Abs(e[i]) + scale;
                _maxRel = Math.Max(_maxRel, denominator == 0 ? (diff == 0 ? 0 : double.PositiveInfinity) : diff / denominator);
                if (!(diff <= allowed) && reported++ < 3)
                {
                    Fail(string.Create(CultureInfo.InvariantCulture, $"{where}[{i}]: {a[i]:E6} vs reference {e[i]:E6} (|diff| {diff:E2} > {allowed:E2})"));
                }
            }
        }
    }
}
