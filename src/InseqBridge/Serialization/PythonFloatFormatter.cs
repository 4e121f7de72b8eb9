using System.Globalization;
using System.Text;

namespace InseqBridge.Serialization;

/// <summary>
/// Formats doubles the way Python's <c>float.__repr__</c> (and so <c>json.dumps</c>) does: the shortest text that
/// round-trips, positional between 1e-4 and 1e16 with at least one decimal (<c>1.0</c>), otherwise scientific with a
/// signed two-digit exponent (<c>1e-05</c>, <c>1.5e+16</c>); <c>NaN</c>, <c>Infinity</c>, <c>-Infinity</c>.
/// </summary>
internal static class PythonFloatFormatter
{
    public static string Format(double value)
    {
        if (double.IsNaN(value))
        {
            return "NaN";
        }

        if (double.IsInfinity(value))
        {
            return value > 0 ? "Infinity" : "-Infinity";
        }

        if (value == 0)
        {
            return double.IsNegative(value) ? "-0.0" : "0.0";
        }

        // "E16" is not shortest; "R" is, so split R's output into digits and a decimal exponent.
        string r = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        int exponentPart = 0;
        int ePos = r.IndexOfAny(['E', 'e']);
        string mantissa = r;
        if (ePos >= 0)
        {
            exponentPart = int.Parse(r.AsSpan(ePos + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            mantissa = r[..ePos];
        }

        int dot = mantissa.IndexOf('.', StringComparison.Ordinal);
        string intPart = dot >= 0 ? mantissa[..dot] : mantissa;
        string fracPart = dot >= 0 ? mantissa[(dot + 1)..] : string.Empty;
        string digits = (intPart + fracPart).TrimStart('0');
        int leadingZeros = (intPart + fracPart).Length - (intPart + fracPart).TrimStart('0').Length;

        // Decimal exponent of the first significant digit: value = 0.d1d2... * 10^pointPos.
        int pointPos = intPart.Length - leadingZeros + exponentPart;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0)
        {
            digits = "0";
        }

        int sciExponent = pointPos - 1;
        var sb = new StringBuilder();
        if (value < 0)
        {
            sb.Append('-');
        }

        if (sciExponent < -4 || sciExponent >= 16)
        {
            sb.Append(digits[0]);
            if (digits.Length > 1)
            {
                sb.Append('.').Append(digits, 1, digits.Length - 1);
            }

            sb.Append('e').Append(sciExponent < 0 ? '-' : '+')
                .Append(Math.Abs(sciExponent).ToString("00", CultureInfo.InvariantCulture));
        }
        else if (pointPos <= 0)
        {
            sb.Append("0.").Append('0', -pointPos).Append(digits);
        }
        else if (pointPos >= digits.Length)
        {
            sb.Append(digits).Append('0', pointPos - digits.Length).Append(".0");
        }
        else
        {
            sb.Append(digits, 0, pointPos).Append('.').Append(digits, pointPos, digits.Length - pointPos);
        }

        return sb.ToString();
    }
}
