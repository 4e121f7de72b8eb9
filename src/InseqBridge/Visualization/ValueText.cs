using System.Globalization;

namespace InseqBridge.Visualization;

/// <summary>How scores are written by the renderers (invariant culture).</summary>
public static class ValueText
{
    /// <summary>The exact (round-trip) text of <paramref name="value"/>; <c>NaN</c> for a missing score.</summary>
    public static string Exact(float value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A short text for table cells (two decimals); empty for NaN.</summary>
    public static string Short(float value) =>
        float.IsNaN(value) ? string.Empty : value.ToString("0.00", CultureInfo.InvariantCulture);
}
