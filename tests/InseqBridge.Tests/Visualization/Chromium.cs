using System.Diagnostics;

namespace InseqBridge.Tests.Visualization;

/// <summary>Runs headless Chromium (Debian's <c>chromium</c> package) for the HTML tests.</summary>
public static class Chromium
{
    /// <summary>The browser executable, or null when none is installed.</summary>
    public static string? Executable { get; } = Find();

    /// <summary>Why the browser tests are skipped (null when they run).</summary>
    public static string? SkipReason => Executable is null
        ? "chromium is not installed: the headless browser tests of the HTML pages need it (Debian: apt-get install -y chromium; .ci/run installs it)"
        : null;

    /// <summary>Loads <paramref name="htmlPath"/> and returns the DOM after scripts ran (<c>--dump-dom</c>).</summary>
    public static string DumpDom(string htmlPath) => Run("--dump-dom", new Uri(Path.GetFullPath(htmlPath)).AbsoluteUri);

    /// <summary>Takes a PNG screenshot of <paramref name="htmlPath"/>.</summary>
    public static void Screenshot(string htmlPath, string pngPath, int width = 1200, int height = 900) =>
        Run($"--screenshot={Path.GetFullPath(pngPath)}", $"--window-size={width},{height}", new Uri(Path.GetFullPath(htmlPath)).AbsoluteUri);

    private static string Run(params string[] arguments)
    {
        var start = new ProcessStartInfo(Executable ?? throw new InvalidOperationException(SkipReason))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // --no-sandbox: CI runs as root; the page is local and has no network access to lose.
        foreach (string a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars" }.Concat(arguments))
        {
            start.ArgumentList.Add(a);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("chromium did not finish within 90 s");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"chromium exited with {process.ExitCode}: {stderr.Result}");
        }

        return stdout.Result;
    }

    private static string? Find()
    {
        foreach (string name in new[] { "chromium", "chromium-browser", "google-chrome" })
        {
            foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                string candidate = Path.Combine(dir, name);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}

/// <summary>A fact that is skipped, with the reason shown, when Chromium is not installed.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute() => Skip = Chromium.SkipReason;
}

/// <summary>A theory that is skipped, with the reason shown, when Chromium is not installed.</summary>
public sealed class ChromiumTheoryAttribute : TheoryAttribute
{
    public ChromiumTheoryAttribute() => Skip = Chromium.SkipReason;
}
