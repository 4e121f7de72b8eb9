namespace InseqBridge.Attribution.Context;

/// <summary>A token picked by <see cref="ContextTokenSelection.FilterRank"/>.</summary>
/// <param name="Index">Its position in the scored list.</param>
/// <param name="Score">Its score.</param>
/// <param name="Token">The token.</param>
public readonly record struct RankedToken(int Index, double Score, string Token);

/// <summary>Inseq's score thresholds: mean + λ·std (torch's unbiased std, float32), tokens ranked by |score|.</summary>
public static class ContextTokenSelection
{
    /// <summary>The threshold for <paramref name="scores"/>: 0 without λ or scores, the mean for λ = 0 or one score,
    /// else mean + λ·std (computed in float32, as Inseq's torch tensors).</summary>
    public static double Threshold(IReadOnlyList<double> scores, double? stdWeight)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (stdWeight is null || scores.Count == 0)
        {
            return 0;
        }

        float[] values = scores.Select(s => (float)s).ToArray();
        float mean = Mean(values);
        if (stdWeight == 0 || values.Length == 1)
        {
            return mean;
        }

        double sq = 0;
        foreach (float v in values)
        {
            double d = (double)v - mean;
            sq += d * d;
        }

        float std = (float)Math.Sqrt(sq / (values.Length - 1));
        return (float)(mean + ((float)stdWeight.Value * std));
    }

    private static float Mean(float[] values)
    {
        double sum = 0;
        foreach (float v in values)
        {
            sum += v;
        }

        return (float)(sum / values.Length);
    }

    /// <summary>Tokens whose |score| reaches the threshold, by decreasing |score| (stable), then the first
    /// <paramref name="topK"/> (null or 0: all).</summary>
    public static (IReadOnlyList<RankedToken> Ranked, double Threshold) FilterRank(
        IReadOnlyList<string> tokens, IReadOnlyList<double> scores, double? stdThreshold, int? topK)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(scores);
        double threshold = Threshold(scores, stdThreshold);
        var ranked = Enumerable.Range(0, Math.Min(tokens.Count, scores.Count))
            .Select(i => new RankedToken(i, scores[i], tokens[i]))
            .OrderByDescending(t => Math.Abs(t.Score))
            .Where(t => (float)Math.Abs(t.Score) >= (float)threshold)
            .ToList();
        if (topK is int k && k > 0 && ranked.Count > k)
        {
            ranked = ranked.Take(k).ToList();
        }

        return (ranked, threshold);
    }
}
