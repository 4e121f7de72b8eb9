using System.Collections.Concurrent;
using System.Diagnostics;
using InseqBridge.Python;

namespace InseqBridge.Python.Tests;

/// <summary>
/// The Python the tests use: <c>INSEQBRIDGE_TEST_PYTHON</c> (an executable) when set, otherwise normal discovery.
/// Answers whether given modules import there, with a reason to show when they do not.
/// </summary>
public static class PythonTestEnvironment
{
    private static readonly ConcurrentDictionary<string, string?> Reasons = new();
    private static readonly ConcurrentDictionary<string, (PythonEnvironment? Env, string? Error)> Located = new();

    private static (PythonEnvironment? Env, string? Error) Locate(string[] modules) => Located.GetOrAdd(string.Join(",", modules), _ =>
    {
        try
        {
            // Among several python3 on PATH, discovery prefers the first that has the modules.
            return (PythonLocator.Locate(Environment.GetEnvironmentVariable("INSEQBRIDGE_TEST_PYTHON") is { Length: > 0 } p ? p : null, modules), null);
        }
        catch (PythonEnvironmentException e)
        {
            return (null, e.Message);
        }
    });

    /// <summary>The Python executable (or library) the tests needing <paramref name="modules"/> use.</summary>
    public static string? Python(params string[] modules) => Locate(modules).Env is { } env ? env.Executable ?? env.LibraryPath : null;

    /// <summary>Null when <paramref name="modules"/> import in the test Python; otherwise why not (shown as the skip reason).</summary>
    public static string? MissingReason(params string[] modules) => Reasons.GetOrAdd(string.Join(",", modules), _ =>
    {
        if (Locate(modules).Env is not { } env)
        {
            return "No Python found: " + Locate(modules).Error;
        }

        if (env.Executable is null)
        {
            return null;
        }

        var start = new ProcessStartInfo(env.Executable) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(string.Join("; ", modules.Select(m => $"import {m}")));
        using Process process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0
            ? null
            : $"Python {env.Executable} cannot import {string.Join(", ", modules)} ({error.Trim().Split('\n')[^1]}); " +
              "install them (CI: apt install python3-torch; inseq/transformers: see environment.yml) or set INSEQBRIDGE_TEST_PYTHON.";
    });

    /// <summary>Options for a test backend on the test Python.</summary>
    public static PythonBackendOptions Options(params string[] requiredModules) => new()
    {
        Python = Python(requiredModules),
        RequiredModules = requiredModules,
    };
}

/// <summary>A fact that runs only when the test Python imports torch; otherwise it is reported as skipped with the reason.</summary>
public sealed class PythonTorchFactAttribute : FactAttribute
{
    /// <summary>Creates the attribute.</summary>
    public PythonTorchFactAttribute()
    {
        if (PythonTestEnvironment.MissingReason("torch") is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>A fact that runs only when the test Python imports torch, transformers and inseq; otherwise skipped with the reason.</summary>
public sealed class PythonInseqFactAttribute : FactAttribute
{
    /// <summary>Creates the attribute.</summary>
    public PythonInseqFactAttribute()
    {
        if (PythonTestEnvironment.MissingReason("torch", "transformers", "inseq") is { } reason)
        {
            Skip = reason;
        }
    }
}
