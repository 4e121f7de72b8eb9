namespace InseqBridge.Attribution;

/// <summary>Ids close to a mistyped one (edit distance, or one containing the other), for "did you mean" hints.</summary>
public static class CloseIds
{
    /// <summary>The ids among <paramref name="known"/> close to <paramref name="id"/>, closest first (at most 3).</summary>
    public static IReadOnlyList<string> Of(string id, IEnumerable<string> known)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(known);
        string wanted = id.Trim().ToLowerInvariant().Replace('-', '_');
        int limit = Math.Max(2, wanted.Length / 3);
        return known
            .Select(k => (Id: k, Distance: Distance(wanted, k)))
            .Where(c => c.Distance <= limit || (wanted.Length >= 3 && (c.Id.Contains(wanted, StringComparison.Ordinal) || wanted.Contains(c.Id, StringComparison.Ordinal))))
            .OrderBy(c => c.Distance)
            .ThenBy(c => c.Id, StringComparer.Ordinal)
            .Take(3)
            .Select(c => c.Id)
            .ToList();
    }

    /// <summary>" Did you mean a, b?" or an empty string when nothing is close.</summary>
    internal static string Hint(string id, IEnumerable<string> known)
    {
        IReadOnlyList<string> close = Of(id, known);
        return close.Count == 0 ? string.Empty : $" Did you mean {string.Join(" or ", close)}?";
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
