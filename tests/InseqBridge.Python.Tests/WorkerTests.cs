using System.Diagnostics;
using System.Text.Json.Nodes;

namespace InseqBridge.Python.Tests;

/// <summary>The worker process: start/stop, buffers, error mapping, crash/hang isolation, cancellation (Python + torch only).</summary>
public class WorkerTests
{
    private static PythonBackend StartWorker(TimeSpan? callTimeout = null, TimeSpan? grace = null) =>
        PythonBackend.Start(PythonTestEnvironment.Options("torch") with
        {
            CallTimeout = callTimeout,
            CancellationGracePeriod = grace ?? TimeSpan.FromSeconds(5),
            EnableTestOperations = true,
        });

    [PythonTorchFact]
    public void Test_operations_are_refused_unless_the_backend_enables_them()
    {
        using PythonBackend backend = PythonBackend.Start(PythonTestEnvironment.Options("torch"));
        int pid = backend.WorkerProcessId!.Value;
        var e = Assert.Throws<PythonProtocolException>(() => backend.RunSelfTest("test.crash", new JsonObject { ["kind"] = "abort" }));
        Assert.Contains("EnableTestOperations", e.Message, StringComparison.Ordinal);
        Assert.Throws<PythonProtocolException>(() => backend.ScaleWithTorch([1f], 2));
        Assert.Equal(pid, backend.WorkerProcessId); // the worker is still the same, alive
        Assert.NotNull(backend.Probe(["json"]).Modules["json"]);
        Assert.Throws<ArgumentException>(() => backend.RunSelfTest("attribute", []));
    }

    [PythonTorchFact]
    public void Worker_runs_in_a_child_process_and_stops_on_dispose()
    {
        Process? worker;
        using (PythonBackend backend = StartWorker())
        {
            int? pid = backend.WorkerProcessId;
            Assert.NotNull(pid);
            Assert.NotEqual(Environment.ProcessId, pid);
            worker = Process.GetProcessById(pid!.Value);
            PythonProbe probe = backend.Probe(["torch", "json"]);
            Assert.NotNull(probe.Modules["torch"]);
            Assert.StartsWith("3.", probe.PythonVersion);
        }

        Assert.True(worker.WaitForExit(10_000), "the worker is still running after Dispose");
    }

    [PythonTorchFact]
    public void A_million_floats_cross_as_one_buffer_and_torch_computes_on_them()
    {
        using PythonBackend backend = StartWorker();
        var random = new Random(7);
        float[] values = new float[1_000_000];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(random.NextDouble() * 2 - 1);
        }

        values[3] = float.NaN;
        values[4] = float.PositiveInfinity;
        backend.ScaleWithTorch([1f], 1.0); // warm up (imports torch)
        var watch = Stopwatch.StartNew();
        float[] scaled = backend.ScaleWithTorch(values, -2.0);
        watch.Stop();
        Assert.Equal(values.Length, scaled.Length);
        for (int i = 0; i < values.Length; i++)
        {
            float expected = values[i] * -2f; // exact in binary floating point
            Assert.True(expected.Equals(scaled[i]), $"[{i}] {scaled[i]} != {expected}");
        }

        // Element-by-element marshalling takes ~0.6 s per million floats; buffers take milliseconds.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"round trip took {watch.Elapsed}");
    }

    [PythonTorchFact]
    public void A_python_exception_becomes_a_typed_exception_with_the_traceback()
    {
        using PythonBackend backend = StartWorker();
        var e = Assert.Throws<PythonExecutionException>(() => backend.RunSelfTest("test.fail", new JsonObject { ["message"] = "bad value 42" }));
        Assert.Equal("ValueError", e.PythonType);
        Assert.Equal("bad value 42", e.PythonMessage);
        Assert.Contains("Traceback", e.PythonTraceback);
        Assert.Contains("in inner", e.PythonTraceback);
        Assert.Contains("test_fail", e.PythonTraceback);
        Assert.IsAssignableFrom<InseqBridge.Errors.InseqBridgeException>(e);

        // The worker survives a Python exception.
        Assert.Equal([2f], backend.ScaleWithTorch([1f], 2.0));
    }

    [PythonTorchFact]
    public void A_crashed_worker_gives_a_typed_error_and_the_next_call_starts_a_new_one()
    {
        using PythonBackend backend = StartWorker();
        int first = backend.WorkerProcessId!.Value;
        var e = Assert.Throws<PythonWorkerException>(() => backend.RunSelfTest("test.crash", new JsonObject { ["kind"] = "abort" }));
        Assert.False(e.TimedOut);
        Assert.Equal(134, e.ExitCode); // 128 + SIGABRT
        Assert.Contains("crashing on purpose", e.StandardErrorTail);

        Assert.Equal([3f], backend.ScaleWithTorch([1.5f], 2.0));
        Assert.NotEqual(first, backend.WorkerProcessId);
    }

    [PythonTorchFact]
    public void A_worker_killed_from_outside_is_replaced_on_the_next_call()
    {
        using PythonBackend backend = StartWorker();
        int first = backend.WorkerProcessId!.Value;
        using (Process worker = Process.GetProcessById(first))
        {
            worker.Kill();
            worker.WaitForExit();
        }

        Assert.Equal([4f], backend.ScaleWithTorch([2f], 2.0));
        Assert.NotEqual(first, backend.WorkerProcessId);
    }

    [PythonTorchFact]
    public void A_hung_worker_is_stopped_at_the_call_timeout_and_the_next_call_works()
    {
        using PythonBackend backend = StartWorker(callTimeout: TimeSpan.FromSeconds(3));
        int first = backend.WorkerProcessId!.Value;
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<PythonWorkerException>(() => backend.RunSelfTest("test.hang_native", new JsonObject { ["seconds"] = 120 }));
        Assert.True(e.TimedOut);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"timeout took {watch.Elapsed}");

        Assert.Equal([2f], backend.ScaleWithTorch([1f], 2.0));
        Assert.NotEqual(first, backend.WorkerProcessId);
    }

    [PythonTorchFact]
    public void Cancellation_interrupts_python_and_keeps_the_worker()
    {
        using PythonBackend backend = StartWorker();
        int first = backend.WorkerProcessId!.Value;
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var watch = Stopwatch.StartNew();
        Assert.ThrowsAny<OperationCanceledException>(() => backend.RunSelfTest("test.sleep", new JsonObject { ["seconds"] = 60 }, cancel.Token));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(4), $"cancellation took {watch.Elapsed}");

        Assert.Equal(first, backend.WorkerProcessId);
        Assert.Equal("slept", backend.RunSelfTest("test.sleep", new JsonObject { ["seconds"] = 0.05 })!.GetValue<string>());
    }

    [PythonTorchFact]
    public void Cancellation_of_a_call_stuck_in_native_code_kills_the_worker_after_the_grace_period()
    {
        using PythonBackend backend = StartWorker(grace: TimeSpan.FromSeconds(1));
        int first = backend.WorkerProcessId!.Value;
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var watch = Stopwatch.StartNew();
        Assert.ThrowsAny<OperationCanceledException>(() => backend.RunSelfTest("test.hang_native", new JsonObject { ["seconds"] = 120 }, cancel.Token));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"cancellation took {watch.Elapsed}");

        Assert.Equal([2f], backend.ScaleWithTorch([1f], 2.0));
        Assert.NotEqual(first, backend.WorkerProcessId);
    }
}
