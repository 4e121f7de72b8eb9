namespace InseqBridge.Attribution;

/// <summary>
/// Alignment of original and contrastive target tokens with Inseq's rules: explicit pairs are restricted to the
/// attributed positions (one per position, preferring contrast positions not used yet), and positions left without
/// a pair are aligned right to left (the last attributed position to the last contrastive token).
/// </summary>
public static class ContrastAlignment
{
    /// <summary>
    /// Inseq's <c>get_adjusted_alignments</c> with missing positions filled: one pair for every original position in
    /// [<paramref name="start"/>, <paramref name="end"/>).
    /// </summary>
    /// <param name="pairs">Explicit pairs, or null for none.</param>
    /// <param name="contrastLength">Number of contrastive target tokens.</param>
    /// <param name="start">First attributed original position.</param>
    /// <param name="end">One past the last attributed original position.</param>
    /// <returns>Pairs sorted by original then contrast position.</returns>
    public static IReadOnlyList<AlignmentPair> Adjust(IReadOnlyList<AlignmentPair>? pairs, int contrastLength, int start, int end)
    {
        var sorted = (pairs ?? []).Distinct().OrderBy(p => p.Original).ThenBy(p => p.Contrast).ToList();
        var chosen = new List<AlignmentPair>();
        for (int position = start; position < end; position++)
        {
            var matches = sorted.Where(p => p.Original == position && p.Contrast >= 0 && p.Contrast < contrastLength).ToList();
            if (matches.Count > 0)
            {
                var unused = matches.Where(p => chosen.All(c => c.Contrast != p.Contrast)).ToList();
                chosen.Add(unused.Count > 0 ? unused[0] : matches[0]);
            }
        }

        var filled = new List<AlignmentPair>(chosen);
        int fromEnd = 1;
        for (int position = end - 1; position >= start; position--, fromEnd++)
        {
            if (chosen.All(p => p.Original != position))
            {
                filled.Add(new AlignmentPair(position, contrastLength - fromEnd > 0 ? contrastLength - fromEnd : contrastLength - 1));
            }
        }

        return filled.Distinct().OrderBy(p => p.Original).ThenBy(p => p.Contrast).ToList();
    }

    /// <summary>
    /// Inseq's <c>get_aligned_idx</c>: the smallest contrast position aligned to <paramref name="position"/>;
    /// -1 when the position has no pair; the position itself when there are no pairs at all.
    /// </summary>
    /// <param name="position">Original target position.</param>
    /// <param name="pairs">Adjusted pairs.</param>
    public static int AlignedIndex(int position, IReadOnlyList<AlignmentPair> pairs)
    {
        if (pairs.Count == 0)
        {
            return position;
        }

        int best = int.MaxValue;
        foreach (var p in pairs)
        {
            if (p.Original == position && p.Contrast < best)
            {
                best = p.Contrast;
            }
        }

        return best == int.MaxValue ? -1 : best;
    }

    /// <summary>
    /// Automatic token alignment: tokens equal in both sequences are matched along their longest common
    /// subsequence; the differing stretches between two matches are paired in order (a longer original stretch maps
    /// its extra tokens to the last contrastive token of the stretch, or to the next match when the contrastive
    /// stretch is empty). Only pairs whose original position lies in [<paramref name="start"/>, <paramref name="end"/>)
    /// are returned.
    /// </summary>
    /// <param name="original">Original target tokens.</param>
    /// <param name="contrast">Contrastive target tokens.</param>
    /// <param name="start">First attributed original position.</param>
    /// <param name="end">One past the last attributed original position.</param>
    public static IReadOnlyList<AlignmentPair> Auto(IReadOnlyList<string> original, IReadOnlyList<string> contrast, int start, int end)
    {
        int n = original.Count, m = contrast.Count;
        var lcs = new int[n + 1, m + 1];
        for (int i = n - 1; i >= 0; i--)
        {
            for (int j = m - 1; j >= 0; j--)
            {
                lcs[i, j] = Normalize(original[i]) == Normalize(contrast[j]) ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
            }
        }

        var anchors = new List<AlignmentPair>();
        for (int i = 0, j = 0; i < n && j < m;)
        {
            if (Normalize(original[i]) == Normalize(contrast[j]))
            {
                anchors.Add(new AlignmentPair(i, j));
                i++;
                j++;
            }
            else if (lcs[i + 1, j] >= lcs[i, j + 1])
            {
                i++;
            }
            else
            {
                j++;
            }
        }

        var pairs = new List<AlignmentPair>();
        int previousI = -1, previousJ = -1;
        foreach (var anchor in anchors.Append(new AlignmentPair(n, m)))
        {
            int gapStart = previousJ + 1, gapLength = anchor.Contrast - gapStart;
            for (int i = previousI + 1, k = 0; i < anchor.Original; i++, k++)
            {
                int j = gapLength > 0 ? gapStart + Math.Min(k, gapLength - 1) : Math.Min(anchor.Contrast, m - 1);
                if (j >= 0)
                {
                    pairs.Add(new AlignmentPair(i, j));
                }
            }

            if (anchor.Original < n)
            {
                pairs.Add(anchor);
            }

            previousI = anchor.Original;
            previousJ = anchor.Contrast;
        }

        return pairs.Where(p => p.Original >= start && p.Original < end).ToList();
    }

    /// <summary>
    /// Target tokens as Inseq shows them in a contrastive output: <c>"contrast → original"</c> with id -1 where the
    /// aligned tokens differ, the original token elsewhere.
    /// </summary>
    /// <param name="original">Original target tokens with ids.</param>
    /// <param name="contrastTokens">Contrastive target tokens.</param>
    /// <param name="pairs">Adjusted pairs.</param>
    public static IReadOnlyList<Data.TokenWithId> DisplayTokens(
        IReadOnlyList<Data.TokenWithId> original, IReadOnlyList<string> contrastTokens, IReadOnlyList<AlignmentPair> pairs)
    {
        var result = new List<Data.TokenWithId>(original.Count);
        for (int position = 0; position < original.Count; position++)
        {
            int c = AlignedIndex(position, pairs);
            result.Add(c >= 0 && c < contrastTokens.Count && contrastTokens[c] != original[position].Token
                ? new Data.TokenWithId($"{contrastTokens[c]} → {original[position].Token}", -1)
                : original[position]);
        }

        return result;
    }

    private static string Normalize(string token) => token.Trim();
}
