using System.Security.Cryptography;
using System.Text.RegularExpressions;
using InseqBridge.Native;
using InseqBridge.Native.Tests;

namespace InseqBridge.Cli.Tests;

/// <summary>
/// Runs every <see cref="BadInputCatalogue"/> case in-process and checks what a user sees: the exit code, one
/// <c>error:</c> line naming the problem and the fix, no stack trace or .NET type name, no raw control characters,
/// and no file changed that the command was not asked to write.
/// </summary>
public sealed partial class BadInputCatalogueTests
{
    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (BadInput c in BadInputCatalogue.All)
        {
            data.Add(c.Name);
        }

        return data;
    }

    [Fact]
    public void The_catalogue_has_at_least_140_distinct_cases()
    {
        Assert.True(BadInputCatalogue.All.Count >= 140, $"{BadInputCatalogue.All.Count} cases");
        Assert.Equal(BadInputCatalogue.All.Count, BadInputCatalogue.All.Select(c => c.Name).Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Bad_input_is_reported_in_one_clean_line(string name)
    {
        BadInput c = BadInputCatalogue.All.Single(x => x.Name == name);
        using var folder = new TemporaryFolder();
        string[] args = c.Prepare(folder.Path);
        var before = Snapshot(folder.Path, c.Outputs);
        CliResult result = CliRunner.Run(args);
        string all = result.Output + result.Error;

        Assert.True(result.ExitCode == c.Exit, $"{name}: expected exit {c.Exit}\n{result}");
        Assert.False(TypeNames().IsMatch(all), $"{name}: a .NET type name or stack trace\n{result}");
        Assert.False(all.Any(ch => ch is < ' ' and not '\n' and not '\r' and not '\t' || ch is >= '\u007f' and <= '\u009f' || ch is >= '\u202a' and <= '\u202e'), $"{name}: a raw control character\n{result}");
        if (c.Exit != 0)
        {
            string[] lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            string[] errors = lines.Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToArray();
            Assert.True(errors.Length == 1, $"{name}: expected one error line\n{result}");
            Assert.True(lines.Length <= 2, $"{name}: expected the error on one line (plus at most one hint)\n{result}");
            foreach (string word in c.MustSay)
            {
                Assert.True(result.Error.Contains(word, StringComparison.OrdinalIgnoreCase), $"{name}: the message does not say '{word}'\n{result}");
            }
        }

        var after = Snapshot(folder.Path, c.Outputs);
        Assert.True(before.SequenceEqual(after), $"{name}: files changed: {string.Join(", ", after.Except(before).Concat(before.Except(after)).Select(x => x.Key).Distinct())}");
    }

    [GeneratedRegex(@"System\.|Exception|   at |\bat InseqBridge\.")]
    private static partial Regex TypeNames();

    /// <summary>Every file under <paramref name="root"/> (except the allowed outputs) with a hash of its content;
    /// linked fixture files are hashed through the link, so a fixture changed through a link is caught too.</summary>
    private static List<KeyValuePair<string, string>> Snapshot(string root, string[] outputs)
    {
        var result = new List<KeyValuePair<string, string>>();
        foreach (string path in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string relative = Path.GetRelativePath(root, path);
            if (outputs.Any(o => relative == o || relative.StartsWith(o + Path.DirectorySeparatorChar, StringComparison.Ordinal)))
            {
                continue;
            }

            string hash = File.Exists(path) ? Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))) : "dir";
            result.Add(KeyValuePair.Create(relative, hash));
        }

        return result;
    }
}
