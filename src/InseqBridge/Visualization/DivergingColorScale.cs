using System.Globalization;

namespace InseqBridge.Visualization;

/// <summary>
/// A diverging colour scale centred at zero: white at zero, red for negative and blue for positive values, full
/// saturation at ±<see cref="MaxAbs"/> (a symmetric range).
/// </summary>
/// <param name="MaxAbs">The largest absolute value of the table; values beyond it are clamped.</param>
public readonly record struct DivergingColorScale(double MaxAbs)
{
    /// <summary>A scale whose range is the largest finite absolute value among <paramref name="values"/>.</summary>
    public static DivergingColorScale For(IEnumerable<float> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        double max = 0;
        foreach (float v in values)
        {
            if (float.IsFinite(v))
            {
                max = Math.Max(max, Math.Abs(v));
            }
        }

        return new DivergingColorScale(max);
    }

    /// <summary>The colour of <paramref name="value"/>; null for NaN (no score).</summary>
    public RgbColor? ColorOf(double value)
    {
        if (double.IsNaN(value))
        {
            return null;
        }

        double t = MaxAbs > 0 ? Math.Clamp(Math.Abs(value) / MaxAbs, 0, 1) : 0;
        byte fade = (byte)Math.Round(255 * (1 - t));
        return value < 0 ? new RgbColor(255, fade, fade) : new RgbColor(fade, fade, 255);
    }
}

/// <summary>An sRGB colour.</summary>
/// <param name="R">Red.</param>
/// <param name="G">Green.</param>
/// <param name="B">Blue.</param>
public readonly record struct RgbColor(byte R, byte G, byte B)
{
    /// <summary>CSS hex notation, e.g. <c>#ff8080</c>.</summary>
    public string ToHex() => string.Create(CultureInfo.InvariantCulture, $"#{R:x2}{G:x2}{B:x2}");

    /// <summary>Relative luminance in [0, 1] (for choosing a readable text colour).</summary>
    public double Luminance => ((0.2126 * R) + (0.7152 * G) + (0.0722 * B)) / 255.0;
}
