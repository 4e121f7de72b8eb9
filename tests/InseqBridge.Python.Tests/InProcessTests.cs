using System.Text.Json.Nodes;

namespace InseqBridge.Python.Tests;

/// <summary>In-process mode (this test process never loads TorchSharp): same operations, same error mapping.</summary>
public class InProcessTests
{
    private static PythonBackend StartInProcess() =>
        PythonBackend.Start(PythonTestEnvironment.Options("torch") with { Execution = PythonExecution.InProcess, EnableTestOperations = true });

    [PythonTorchFact]
    public void In_process_python_computes_on_buffers_and_maps_errors()
    {
        using PythonBackend backend = StartInProcess();
        Assert.Null(backend.WorkerProcessId);
        Assert.Equal([-1f, 0.5f], backend.ScaleWithTorch([2f, -1f], -0.5));
        var e = Assert.Throws<PythonExecutionException>(() => backend.RunSelfTest("test.fail", new JsonObject { ["message"] = "in process" }));
        Assert.Equal("ValueError", e.PythonType);
        Assert.Contains("in inner", e.PythonTraceback);
    }

    [PythonTorchFact]
    public void In_process_cancellation_interrupts_python()
    {
        using PythonBackend backend = StartInProcess();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.ThrowsAny<OperationCanceledException>(() => backend.RunSelfTest("test.sleep", new JsonObject { ["seconds"] = 60 }, cancel.Token));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(4), $"cancellation took {watch.Elapsed}");

        // No interrupt leaks into the next call.
        Assert.Equal("slept", backend.RunSelfTest("test.sleep", new JsonObject { ["seconds"] = 0.05 })!.GetValue<string>());
    }

    [PythonTorchFact]
    public void In_process_test_operations_are_refused_unless_the_backend_enables_them()
    {
        using PythonBackend backend = PythonBackend.Start(PythonTestEnvironment.Options("torch") with { Execution = PythonExecution.InProcess });
        var e = Assert.Throws<PythonProtocolException>(() => backend.RunSelfTest("test.fail", new JsonObject { ["message"] = "x" }));
        Assert.Contains("EnableTestOperations", e.Message, StringComparison.Ordinal);
    }
}
