using System.Globalization;
using System.Text;
using InseqBridge.Tokenizers.Fast;

namespace InseqBridge.Tokenizers.Tests;

/// <summary>
/// The managed NFC/NFD/NFKC/NFKD (string.Normalize is ASCII-only in invariant globalization mode) against the
/// Unicode Consortium's conformance file NormalizationTest.txt (Debian package unicode-data).
/// </summary>
public sealed class UnicodeNormalizationTests
{
    private const string TestFile = "/usr/share/unicode/NormalizationTest.txt.bz2";

    [UnicodeTestFileFact]
    public void ConformanceFile()
    {
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
            if (!File.Exists(TestFile))
            {
                Skip = $"{TestFile} is missing (Debian package unicode-data)";
            }
        }
    }
}
