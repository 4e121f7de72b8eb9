using System.Diagnostics;
using System.Text.RegularExpressions;
using System.Text.Json.Nodes;

namespace InseqBridge.Native.Tests.Runtime;

/// <summary>
/// The OpenMP wait policy reaches libgomp, which reads it once when libtorch loads it. The observable is libgomp's
/// own report of its settings (<c>OMP_DISPLAY_ENV=VERBOSE</c> makes it print them on stderr as it initialises), in a
/// fresh <c>inseq-bridge</c> process: this test process has libtorch loaded already.
/// </summary>
public class NativeRuntimeTests
{
    /// <summary>Runs the built CLI (inseq-bridge.dll next to the tests) in a child process.</summary>
    private static CliResult RunChild(IDictionary<string, string?> environment, params string[] args) => RunDll("inseq-bridge.dll", environment, args);

    /// <summary>Runs an assembly next to the tests (the CLI, or this test assembly's <see cref="ChildProgram"/>) in a child process.</summary>
    private static CliResult RunDll(string assembly, IDictionary<string, string?> environment, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, assembly);
        Assert.True(File.Exists(dll), $"{dll} is missing: build the test project (it references the CLI).");
        string host = Environment.ProcessPath is string p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var info = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("exec");
        info.ArgumentList.Add(dll);
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (string name in new[] { "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "INSEQ_BRIDGE_OMP_PASSIVE", "INSEQ_BRIDGE_OMP_SPINCOUNT", "INSEQ_BRIDGE_THREADS", "OMP_NUM_THREADS" })
        {
            info.Environment.Remove(name);
        }

        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        using Process process = Process.Start(info)!;
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(180_000), "the child CLI did not finish in 3 minutes");
        return new CliResult(process.ExitCode, stdout, stderr.Result);
    }

    private static CliResult Forward(IDictionary<string, string?> environment, TemporaryFolder folder) => RunChild(
        environment, "forward", "--model", Path.Combine(Fixtures.ParityDir, "models", "gpt2"), "--input", "Hello world", "--save", folder.File("logits.safetensors"));

    private static string Reported(CliResult result, string name)
    {
        Match match = Regex.Match(result.Error, $@"(?m)^\s*{name} = '([^']*)'");
        Assert.True(match.Success, $"libgomp did not report {name}: {result}");
        return match.Groups[1].Value;
    }

    [LinuxFact]
    public void The_cli_makes_libgomp_wait_passively_and_the_opt_out_restores_its_default()
    {
        using var folder = new TemporaryFolder();
        CliResult passive = Forward(new Dictionary<string, string?> { ["OMP_DISPLAY_ENV"] = "VERBOSE" }, folder);
        Assert.True(passive.ExitCode == 0, passive.ToString());
        string defaultSpin = NativeRuntime.DefaultSpinCount.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(defaultSpin, Reported(passive, "GOMP_SPINCOUNT"));
        Assert.Equal(CpuBudget.Available().ToString(System.Globalization.CultureInfo.InvariantCulture), Reported(passive, "OMP_NUM_THREADS"));

        // The same observable without the setting: libgomp's default spin count (so the check above can fail).
        using var other = new TemporaryFolder();
        CliResult spinning = Forward(new Dictionary<string, string?> { ["OMP_DISPLAY_ENV"] = "VERBOSE", ["INSEQ_BRIDGE_OMP_PASSIVE"] = "0" }, other);
        Assert.True(spinning.ExitCode == 0, spinning.ToString());
        Assert.NotEqual(defaultSpin, Reported(spinning, "GOMP_SPINCOUNT"));
    }

    [LinuxFact]
    public void A_library_users_first_model_load_sets_passive_waiting_and_the_thread_count()
    {
        CliResult child = RunDll(
            "InseqBridge.TorchSharp.Tests.dll", new Dictionary<string, string?> { ["OMP_DISPLAY_ENV"] = "VERBOSE" }, "load-model", Path.Combine(Fixtures.ParityDir, "models", "gpt2"));
        Assert.True(child.ExitCode == 0, child.ToString());
        Assert.Equal(NativeRuntime.DefaultSpinCount.ToString(System.Globalization.CultureInfo.InvariantCulture), Reported(child, "GOMP_SPINCOUNT"));
        Assert.Contains("applied=True", child.Output);
        Assert.Contains($"threads={CpuBudget.Available()} source=the CPUs this process may use", child.Output);

        CliResult pinned = RunDll(
            "InseqBridge.TorchSharp.Tests.dll", new Dictionary<string, string?> { ["INSEQ_BRIDGE_THREADS"] = "1" }, "load-model", Path.Combine(Fixtures.ParityDir, "models", "gpt2"));
        Assert.True(pinned.ExitCode == 0, pinned.ToString());
        Assert.Contains("threads=1 source=INSEQ_BRIDGE_THREADS", pinned.Output);
    }

    [LinuxFact]
    public void A_users_own_spin_count_and_the_spin_count_knob_reach_libgomp()
    {
        using var folder = new TemporaryFolder();
        CliResult own = Forward(new Dictionary<string, string?> { ["OMP_DISPLAY_ENV"] = "VERBOSE", ["GOMP_SPINCOUNT"] = "1234" }, folder);
        Assert.True(own.ExitCode == 0, own.ToString());
        Assert.Equal("1234", Reported(own, "GOMP_SPINCOUNT"));

        using var other = new TemporaryFolder();
        CliResult knob = Forward(new Dictionary<string, string?> { ["OMP_DISPLAY_ENV"] = "VERBOSE", ["INSEQ_BRIDGE_OMP_SPINCOUNT"] = "0" }, other);
        Assert.True(knob.ExitCode == 0, knob.ToString());
        Assert.Equal("0", Reported(knob, "GOMP_SPINCOUNT"));
        Assert.Equal("PASSIVE", Reported(knob, "OMP_WAIT_POLICY"));
    }

    [LinuxFact]
    public void The_threads_option_reaches_libgomp_before_it_loads()
    {
        using var folder = new TemporaryFolder();
        CliResult result = RunChild(
            new Dictionary<string, string?> { ["OMP_DISPLAY_ENV"] = "VERBOSE" },
            "forward", "--threads", "1", "--model", Path.Combine(Fixtures.ParityDir, "models", "gpt2"), "--input", "Hello world", "--save", folder.File("logits.safetensors"));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("1", Reported(result, "OMP_NUM_THREADS"));
    }

    [LinuxFact]
    public void A_serial_scope_runs_the_calling_thread_alone_and_restores_its_count()
    {
        int mainThread = TorchSharp.torch.get_num_threads();
        int before = 0, inside = 0, afterwards = 0, elsewhere = 0;
        bool scoped = false;
        Exception? failure = null;
        var other = new Thread(() =>
        {
            try
            {
                before = TorchSharp.torch.get_num_threads();
                using (IDisposable? scope = NativeRuntime.SerialScope())
                {
                    scoped = scope is not null;
                    inside = TorchSharp.torch.get_num_threads();
                    elsewhere = RunOnAnotherThread(TorchSharp.torch.get_num_threads);
                }

                afterwards = TorchSharp.torch.get_num_threads();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        other.Start();
        other.Join();
        Assert.Null(failure);
        if (before < 2)
        {
            Assert.False(scoped); // nothing to narrow on a one-CPU machine
            return;
        }

        Assert.True(scoped);
        Assert.Equal(1, inside);
        Assert.Equal(before, afterwards);
        Assert.Equal(before, elsewhere); // a concurrent thread keeps its own count
        Assert.Equal(mainThread, TorchSharp.torch.get_num_threads());
    }

    private static int RunOnAnotherThread(Func<int> work)
    {
        int result = 0;
        var thread = new Thread(() => result = work());
        thread.Start();
        thread.Join();
        return result;
    }

    [LinuxFact]
    public void Bad_thread_settings_are_clear_errors()
    {
        CliResult variable = RunChild(new Dictionary<string, string?> { ["INSEQ_BRIDGE_THREADS"] = "many" }, "list-methods");
        Assert.NotEqual(0, variable.ExitCode);
        Assert.Contains("INSEQ_BRIDGE_THREADS must be a whole number", variable.Error);
        Assert.DoesNotContain("Exception", variable.Error);

        CliResult option = CliRunner.Run("list-methods", "--threads", "0");
        Assert.Equal(2, option.ExitCode);
        Assert.Contains("--threads must be at least 1", option.Error);
    }
}
