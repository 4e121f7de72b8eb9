using System.Diagnostics;
using System.Security.Cryptography;
using CsCheck;

namespace InseqBridge.Tests.Fuzzing;

/// <summary>
/// Runs a reader over CsCheck-driven mutants of real files for a bounded time (INSEQBRIDGE_FUZZ_SECONDS, default 3
/// per reader, so CI stays fast; set it higher for long fuzzing runs). A mutant that makes the reader throw
/// anything but its documented error, or take longer than <see cref="SlowInput"/>, fails the test and is written to
/// <c>fuzz-findings/</c> under the test output folder; such files are kept in tests/fixtures/fuzz-regressions and
/// replayed by the readers' regression tests.
/// </summary>
public static class FuzzHarness
{
    /// <summary>Longest a reader may take on one mutant (a hang or blow-up shows as a slow input).</summary>
    public static readonly TimeSpan SlowInput = TimeSpan.FromSeconds(5);

    /// <summary>Seconds of fuzzing per reader.</summary>
    public static int Seconds =>
        int.TryParse(Environment.GetEnvironmentVariable("INSEQBRIDGE_FUZZ_SECONDS"), out int s) && s > 0 ? s : 3;

    /// <summary>Fuzzes <paramref name="read"/>; returns the number of mutants tried.</summary>
    /// <param name="name">The reader's name (for findings).</param>
    /// <param name="seeds">Real files to mutate.</param>
    /// <param name="read">Reads one mutant.</param>
    /// <param name="expected">The reader's documented errors.</param>
    /// <param name="log">Summary output.</param>
    public static long Run(string name, IReadOnlyList<byte[]> seeds, Action<byte[]> read, Func<Exception, bool> expected, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        long tried = 0;
        var gen = Gen.Select(Gen.Int[0, seeds.Count - 1], Gen.Int);
        gen.Sample(
            (file, seed) =>
            {
                byte[] mutant = FileMutator.Mutate(seeds[file], seed);
                Interlocked.Increment(ref tried);
                var clock = Stopwatch.StartNew();
                try
                {
                    read(mutant);
                }
                catch (Exception e) when (expected(e))
                {
                    // the documented error: fine
                }
                catch (Exception e)
                {
                    string kept = Keep(name, mutant);
                    throw new InvalidOperationException($"{name}: mutant of seed file {file} (seed {seed}) threw {e.GetType().Name}: {e.Message}; kept as {kept}", e);
                }

                if (clock.Elapsed > SlowInput)
                {
                    string kept = Keep(name, mutant);
                    throw new TimeoutException($"{name}: mutant of seed file {file} (seed {seed}) took {clock.Elapsed}; kept as {kept}");
                }
            },
            writeLine: log,
            iter: long.MaxValue,
            time: Seconds,
            threads: 1);
        log($"{name}: {tried} mutants in {Seconds} s");
        return tried;
    }

    private static string Keep(string name, byte[] mutant)
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "fuzz-findings", name);
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, Convert.ToHexString(SHA256.HashData(mutant))[..16]);
        File.WriteAllBytes(path, mutant);
        return path;
    }
}
