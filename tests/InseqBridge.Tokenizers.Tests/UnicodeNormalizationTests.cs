using System.Globalization;
using System.Text;
using InseqBridge.Tokenizers.Fast;

namespace InseqBridge.Tokenizers.Tests;

/// <summary>
/// The managed NFC/NFD/NFKC/NFKD (string.Normalize is ASCII-only in invariant globalization mode) against the
/// Unicode Consortium's conformance file NormalizationTest.txt (Debian package unicode-data), on the lines whose
/// characters all exist in Unicode 9.0: the Rust tokenizers library normalizes with Unicode 9.0 tables, and so do we
/// (a later character stays as it is, as <see cref="LaterCharactersAreLeftAsTheRustLibraryLeavesThem"/> checks).
/// </summary>
public sealed class UnicodeNormalizationTests
{
    private const string TestFile = "/usr/share/unicode/NormalizationTest.txt.bz2";

    [UnicodeTestFileFact]
    public void ConformanceFile()
    {
        var age = ReadAges();
        var start = new System.Diagnostics.ProcessStartInfo("bzcat", TestFile) { RedirectStandardOutput = true };
        using var process = System.Diagnostics.Process.Start(start)!;
        int lines = 0;
        var failures = new List<string>();
        while (process.StandardOutput.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] is '#' or '@')
            {
                continue;
            }
            var columns = line.Split(';').Take(5).Select(Decode).ToArray();
            if (columns.Any(c => c.EnumerateRunes().Any(r => !age.TryGetValue(r.Value, out var v) || v > new Version(9, 0))))
            {
                continue;
            }
            lines++;
            void Check(NormalizationForm form, string source, string expected)
            {
                string got = UnicodeNormalization.Normalize(source, form);
                if (got != expected && failures.Count < 10)
                {
                    failures.Add($"{form}({line.Split('#')[0]}): got {Hex(got)}, want {Hex(expected)}");
                }
            }
            foreach (var i in new[] { 0, 1, 2 })
            {
                Check(NormalizationForm.FormC, columns[i], columns[1]);
                Check(NormalizationForm.FormD, columns[i], columns[2]);
            }
            foreach (var i in new[] { 0, 1, 2, 3, 4 })
            {
                Check(NormalizationForm.FormKC, columns[i], columns[3]);
                Check(NormalizationForm.FormKD, columns[i], columns[4]);
            }
        }
        process.WaitForExit();
        Assert.True(lines > 10000, $"only {lines} test lines read");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    // Characters of Unicode 12.0 and 14.0 that have compatibility decompositions, and a 10.0 combining mark (ccc 230):
    // the Rust library leaves the first two unchanged and does not move the mark behind U+0316 (ccc 220), which a
    // Unicode 10+ NFD would (measured with npm tokenizers 0.23.2).
    [Fact]
    public void LaterCharactersAreLeftAsTheRustLibraryLeavesThem()
    {
        Assert.Equal(char.ConvertFromUtf32(0x1FBF1), UnicodeNormalization.Normalize(char.ConvertFromUtf32(0x1FBF1), NormalizationForm.FormKC));
        Assert.Equal(char.ConvertFromUtf32(0x107B8), UnicodeNormalization.Normalize(char.ConvertFromUtf32(0x107B8), NormalizationForm.FormKC));
        Assert.Equal("a\u1DF6\u0316", UnicodeNormalization.Normalize("a\u1DF6\u0316", NormalizationForm.FormD));
        Assert.Equal("\u0041", UnicodeNormalization.Normalize("\uFF21", NormalizationForm.FormKC)); // a Unicode 1.1 fullwidth A still maps
    }

    private static Dictionary<int, Version> ReadAges()
    {
        var ages = new Dictionary<int, Version>();
        foreach (var raw in File.ReadLines("/usr/share/unicode/DerivedAge.txt"))
        {
            string line = raw.Split('#')[0].Trim();
            if (line.Length == 0)
            {
                continue;
            }
            var parts = line.Split(';', StringSplitOptions.TrimEntries);
            var range = parts[0].Split("..");
            int first = int.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            int last = int.Parse(range[^1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var version = Version.Parse(parts[1]);
            for (int c = first; c <= last; c++)
            {
                ages[c] = version;
            }
        }
        return ages;
    }

    private static string Decode(string column)
    {
        var builder = new StringBuilder();
        foreach (var hex in column.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            builder.Append(char.ConvertFromUtf32(int.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
        }
        return builder.ToString();
    }

    private static string Hex(string s) => string.Join(' ', s.EnumerateRunes().Select(r => r.Value.ToString("X4", CultureInfo.InvariantCulture)));

    private sealed class UnicodeTestFileFactAttribute : FactAttribute
    {
        public UnicodeTestFileFactAttribute()
        {
            if (!File.Exists(TestFile) || !File.Exists("/usr/share/unicode/DerivedAge.txt"))
            {
                Skip = $"{TestFile} is missing (Debian package unicode-data)";
            }
        }
    }
}
