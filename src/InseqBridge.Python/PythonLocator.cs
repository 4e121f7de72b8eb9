using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace InseqBridge.Python;

/// <summary>A Python installation ready to embed: its shared library and the module search path of its interpreter.</summary>
/// <param name="LibraryPath">libpython shared library (what pythonnet loads).</param>
/// <param name="Executable">The interpreter (null when only a library was given).</param>
/// <param name="Version">major.minor.micro, when known.</param>
/// <param name="SysPath">The interpreter's <c>sys.path</c> (empty when only a library was given).</param>
/// <param name="Home">The interpreter's <c>sys.base_prefix</c> (PYTHONHOME for the embedded interpreter), when known.</param>
/// <param name="Source">How it was found (option, PYTHONNET_PYDLL, conda, PATH).</param>
public sealed record PythonEnvironment(string LibraryPath, string? Executable, string? Version, IReadOnlyList<string> SysPath, string? Home, string Source)
{
    /// <summary>Of the modules asked for at discovery, those the interpreter cannot find (not imported, only looked up).</summary>
    public IReadOnlyList<string> MissingModules { get; init; } = [];
}

/// <summary>
/// Finds Python, in this order: the explicit option (an executable or a libpython), <c>PYTHONNET_PYDLL</c>, the active
/// conda environment (<c>CONDA_PREFIX</c>), <c>python3</c> (then <c>python</c>) on <c>PATH</c>. An executable is asked
/// for its libpython and <c>sys.path</c>. When nothing fits, <see cref="PythonEnvironmentException"/> lists what was tried.
/// </summary>
public static class PythonLocator
{
    internal const string EnvironmentHint =
        "Create the environment described in environment.yml (`conda env create -f environment.yml && conda activate inseq-bridge`) " +
        "or pass --python /path/to/python (a Python executable or a libpython shared library).";

    private const string ProbeScript =
        "import json, os, sys, sysconfig\n" +
        "v = sysconfig.get_config_var\n" +
        "names = [n for n in (v('LDLIBRARY'), v('INSTSONAME')) if n]\n" +
        "dirs = [d for d in (v('LIBDIR'), v('LIBPL'), os.path.join(sys.base_prefix, 'lib'), sys.base_prefix, os.path.dirname(sys.executable)) if d]\n" +
        "if v('MULTIARCH') and v('LIBDIR'): dirs.append(os.path.join(v('LIBDIR'), v('MULTIARCH')))\n" +
        "libs = [os.path.join(d, n) for n in names for d in dirs]\n" +
        "if os.name == 'nt': libs += [os.path.join(sys.base_prefix, 'python%d%d.dll' % sys.version_info[:2])]\n" +
        "import importlib.util\n" +
        "def has(m):\n" +
        "    try: return importlib.util.find_spec(m) is not None\n" +
        "    except Exception: return False\n" +
        "print(json.dumps({'missing': [m for m in sys.argv[1:] if not has(m)], 'executable': sys.executable, 'version': '%d.%d.%d' % sys.version_info[:3], 'path': [p for p in sys.path if p], 'home': sys.base_prefix, 'libs': libs, 'shared': v('Py_ENABLE_SHARED')}))\n";

    /// <summary>Finds Python for <paramref name="explicitPython"/> (an executable or a libpython; null: discover).</summary>
    /// <param name="explicitPython">An executable or a libpython; null: discover.</param>
    /// <param name="preferModules">Modules the caller needs: among several <c>python3</c> on <c>PATH</c>, the first that
    /// has them all wins (checked with <c>importlib.util.find_spec</c>, nothing is imported); the explicit option,
    /// PYTHONNET_PYDLL and conda are taken as they are.</param>
    /// <exception cref="PythonEnvironmentException">Nothing usable was found; the message lists what was tried.</exception>
    public static PythonEnvironment Locate(string? explicitPython = null, IReadOnlyList<string>? preferModules = null)
    {
        preferModules ??= [];
        var tried = new List<string>();
        if (!string.IsNullOrWhiteSpace(explicitPython))
        {
            // An explicit choice is final: falling back silently to another Python would hide the mistake.
            return TryCandidate(explicitPython, "option --python", tried, preferModules)
                ?? throw NotFound(tried);
        }

        if (Environment.GetEnvironmentVariable("PYTHONNET_PYDLL") is { Length: > 0 } pydll)
        {
            if (TryCandidate(pydll, "PYTHONNET_PYDLL", tried, preferModules) is { } found)
            {
                return found;
            }
        }
        else
        {
            tried.Add("PYTHONNET_PYDLL: not set");
        }

        if (Environment.GetEnvironmentVariable("CONDA_PREFIX") is { Length: > 0 } conda)
        {
            string exe = OperatingSystem.IsWindows() ? Path.Combine(conda, "python.exe") : Path.Combine(conda, "bin", "python");
            if (TryCandidate(exe, "active conda environment (CONDA_PREFIX)", tried, preferModules) is { } found)
            {
                return found;
            }
        }
        else
        {
            tried.Add("active conda environment: CONDA_PREFIX not set");
        }

        PythonEnvironment? fallback = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string name in OperatingSystem.IsWindows() ? new[] { "python.exe", "python3.exe" } : ["python3", "python"])
        {
            var all = FindAllOnPath(name);
            if (all.Count == 0)
            {
                tried.Add($"{name} on PATH: not found");
                continue;
            }

            foreach (string exe in all)
            {
                if (TryCandidate(exe, $"{name} on PATH", tried, preferModules) is not { } found || !seen.Add(found.Executable ?? found.LibraryPath))
                {
                    continue;
                }

                if (found.MissingModules.Count == 0)
                {
                    return found;
                }

                tried.Add($"{name} on PATH: {exe} lacks {string.Join(", ", found.MissingModules)}");
                fallback ??= found;
            }
        }

        // None has every module: the first usable one, so the caller's error names what is missing there.
        return fallback ?? throw NotFound(tried);
    }

    internal static PythonEnvironmentException NotFound(IReadOnlyList<string> tried) =>
        new($"No usable Python was found; tried: {string.Join("; ", tried)}. {EnvironmentHint}", tried);

    private static PythonEnvironment? TryCandidate(string path, string source, List<string> tried, IReadOnlyList<string> preferModules)
    {
        string full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            tried.Add($"{source}: {path} does not exist");
            return null;
        }

        if (LooksLikeLibrary(full))
        {
            return new PythonEnvironment(full, null, null, [], null, source);
        }

        ProbeResult? probe;
        try
        {
            probe = RunProbe(full, preferModules);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or JsonException or TimeoutException or IOException)
        {
            // A JSON error means the program ran but did not answer like Python; its parser message helps no one.
            tried.Add(e is JsonException
                ? $"{source}: {path} ran but did not answer like a Python interpreter (give the path of python3 or of libpython3.X.so)"
                : $"{source}: {path} could not be run as Python ({e.Message})");
            return null;
        }

        if (probe is null)
        {
            tried.Add($"{source}: {path} gave no answer");
            return null;
        }

        string? library = probe.Libs.FirstOrDefault(File.Exists);
        if (library is null)
        {
            tried.Add($"{source}: {path} (Python {probe.Version}) has no shared libpython (looked for {string.Join(", ", probe.Libs.Distinct())}); " +
                      "install its shared library (Debian: apt install libpython3.X) or use a Python built with --enable-shared");
            return null;
        }

        return new PythonEnvironment(library, probe.Executable, probe.Version, probe.Path, probe.Home, source) { MissingModules = probe.Missing };
    }

    private static bool LooksLikeLibrary(string path)
    {
        string name = Path.GetFileName(path);
        return name.EndsWith(".so", StringComparison.Ordinal) || name.Contains(".so.", StringComparison.Ordinal)
            || name.EndsWith(".dylib", StringComparison.Ordinal) || name.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
    }

    private static ProbeResult? RunProbe(string executable, IReadOnlyList<string> modules)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(ProbeScript);
        foreach (string module in modules)
        {
            start.ArgumentList.Add(module);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException("process did not start");
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(30_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("no answer within 30 s");
        }

        if (process.ExitCode != 0)
        {
            string err = stderr.Result.Trim();
            throw new InvalidOperationException($"exit code {process.ExitCode}{(err.Length > 0 ? ": " + err.Split('\n')[^1] : string.Empty)}");
        }

        string line = stdout.Result.Trim().Split('\n')[^1];
        return JsonSerializer.Deserialize<ProbeResult>(line);
    }

    private static List<string> FindAllOnPath(string name) =>
        [.. (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name)).Where(File.Exists).Distinct()];

    internal static string? FindOnPath(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private sealed class ProbeResult
    {
        [JsonPropertyName("executable")]
        public string Executable { get; set; } = string.Empty;

        [JsonPropertyName("version")]
        public string Version { get; set; } = string.Empty;

        [JsonPropertyName("path")]
        public List<string> Path { get; set; } = [];

        [JsonPropertyName("missing")]
        public List<string> Missing { get; set; } = [];

        [JsonPropertyName("home")]
        public string? Home { get; set; }

        [JsonPropertyName("libs")]
        public List<string> Libs { get; set; } = [];
    }
}
