using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace InseqBridge.Tokenizers.Fast;

/// <summary>
/// Unicode normalization forms NFC, NFD, NFKC and NFKD in managed code (UAX #15: full decomposition, canonical
/// ordering, canonical composition with the composition exclusions, algorithmic Hangul). Needed because .NET's
/// <c>string.Normalize</c> only handles ASCII in invariant globalization mode. Tables: the characters of Unicode 9.0,
/// the version the Rust tokenizers library normalizes with (<c>scripts/make_unicode_normalization_data.py</c>).
/// </summary>
internal static class UnicodeNormalization
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Lazy<Tables> Data = new(LoadTables);

    private sealed class Tables
    {
        public readonly Dictionary<int, byte> Ccc = [];
        public readonly Dictionary<int, int[]> Canonical = [];
        public readonly Dictionary<int, int[]> Compatibility = [];
        public readonly Dictionary<long, int> Compose = [];
    }

    public static string Normalize(string s, NormalizationForm form)
    {
        bool simple = true;
        foreach (char c in s)
        {
            if (c >= 0xA0)
            {
                simple = false;
                break;
            }
        }
        if (simple)
        {
            return s;
        }
        var tables = Data.Value;
        bool compat = form is NormalizationForm.FormKC or NormalizationForm.FormKD;
        var points = Decompose(s, compat, tables);
        if (form is NormalizationForm.FormC or NormalizationForm.FormKC)
        {
            Compose(points, tables);
        }
        var builder = new StringBuilder(points.Count);
        foreach (int p in points)
        {
            UnicodeText.Append(builder, p);
        }
        return builder.ToString();
    }

    private static byte Ccc(Tables t, int c) => t.Ccc.TryGetValue(c, out byte v) ? v : (byte)0;

    private static List<int> Decompose(string s, bool compat, Tables t)
    {
        var output = new List<int>(s.Length + 8);
        foreach (int c in UnicodeText.CodePoints(s))
        {
            AppendDecomposed(c, compat, t, output);
        }
        // Canonical ordering: stable sort of each run of non-starters by combining class.
        for (int i = 1; i < output.Count; i++)
        {
            byte cc = Ccc(t, output[i]);
            if (cc == 0)
            {
                continue;
            }
            int j = i;
            while (j > 0 && Ccc(t, output[j - 1]) > cc)
            {
                (output[j - 1], output[j]) = (output[j], output[j - 1]);
                j--;
            }
        }
        return output;
    }

    private static void AppendDecomposed(int c, bool compat, Tables t, List<int> output)
    {
        if (c >= SBase && c < SBase + SCount)
        {
            int index = c - SBase;
            output.Add(LBase + (index / NCount));
            output.Add(VBase + (index % NCount / TCount));
            if (index % TCount != 0)
            {
                output.Add(TBase + (index % TCount));
            }
            return;
        }
        if ((compat && t.Compatibility.TryGetValue(c, out var d)) || t.Canonical.TryGetValue(c, out d))
        {
            foreach (int part in d)
            {
                AppendDecomposed(part, compat, t, output);
            }
            return;
        }
        output.Add(c);
    }

    private static void Compose(List<int> points, Tables t)
    {
        if (points.Count == 0)
        {
            return;
        }
        int starterIndex = -1;
        int lastCcc = -1;
        int write = 0;
        for (int read = 0; read < points.Count; read++)
        {
            int c = points[read];
            int cc = Ccc(t, c);
            if (starterIndex >= 0 && (lastCcc < cc || (lastCcc == 0 && write - 1 == starterIndex)))
            {
                int starter = points[starterIndex];
                int composed = ComposePair(starter, c, t);
                if (composed >= 0)
                {
                    points[starterIndex] = composed;
                    continue;
                }
            }
            if (cc == 0)
            {
                starterIndex = write;
                lastCcc = 0;
            }
            else
            {
                lastCcc = cc;
            }
            points[write++] = c;
        }
        points.RemoveRange(write, points.Count - write);
    }

    private static int ComposePair(int a, int b, Tables t)
    {
        if (a >= LBase && a < LBase + LCount && b >= VBase && b < VBase + VCount)
        {
            return SBase + ((((a - LBase) * VCount) + (b - VBase)) * TCount);
        }
        if (a >= SBase && a < SBase + SCount && (a - SBase) % TCount == 0 && b > TBase && b < TBase + TCount)
        {
            return a + (b - TBase);
        }
        return t.Compose.TryGetValue(((long)a << 21) | (uint)b, out int composed) ? composed : -1;
    }

    private static Tables LoadTables()
    {
        var t = new Tables();
        var excluded = new HashSet<int>();
        var pairs = new List<(int C, int[] D)>();
        using var stream = typeof(UnicodeNormalization).Assembly.GetManifestResourceStream("InseqBridge.Tokenizers.UnicodeNormalization.data.gz")
            ?? throw new InvalidOperationException("the Unicode normalization tables are missing from the assembly");
        using var gzip = new GZipStream(stream, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.ASCII);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }
            var f = line.Split(';');
            if (f[0] == "X")
            {
                int start = int.Parse(f[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                int end = int.Parse(f[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                for (int c = start; c <= end; c++)
                {
                    excluded.Add(c);
                }
                continue;
            }
            int cp = int.Parse(f[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            byte ccc = byte.Parse(f[1], CultureInfo.InvariantCulture);
            if (ccc != 0)
            {
                t.Ccc[cp] = ccc;
            }
            if (f[3].Length == 0)
            {
                continue;
            }
            int[] d = [.. f[3].Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(x => int.Parse(x, NumberStyles.HexNumber, CultureInfo.InvariantCulture))];
            if (f[2] == "1")
            {
                t.Compatibility[cp] = d;
            }
            else
            {
                t.Canonical[cp] = d;
                pairs.Add((cp, d));
            }
        }
        foreach (var (c, d) in pairs)
        {
            if (d.Length == 2 && !excluded.Contains(c))
            {
                t.Compose[((long)d[0] << 21) | (uint)d[1]] = c;
            }
        }
        return t;
    }
}
