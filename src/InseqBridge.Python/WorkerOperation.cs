using System.Text.Json.Serialization;

namespace InseqBridge.Python;

/// <summary>
/// The operations of the worker channel (the <c>op</c> of a <see cref="WorkerRequest"/>), with their wire names.
/// The <c>test.*</c> operations exist for the bridge's own tests and run only when the backend was started with
/// <see cref="PythonBackendOptions.EnableTestOperations"/>.
/// </summary>
internal enum WorkerOperation
{
    /// <summary>Starts the worker's embedded Python (<see cref="InitArguments"/>); the first request of a worker.</summary>
    [JsonStringEnumMemberName("init")]
    Init,

    /// <summary>Versions of the interpreter and of some modules (<see cref="ProbeArguments"/> → <see cref="ProbeResult"/>).</summary>
    [JsonStringEnumMemberName("probe")]
    Probe,

    /// <summary><c>inseq.load_model</c> (<see cref="LoadArguments"/> → <see cref="LoadResult"/>).</summary>
    [JsonStringEnumMemberName("load")]
    Load,

    /// <summary>Forgets a loaded model (<see cref="UnloadArguments"/>).</summary>
    [JsonStringEnumMemberName("unload")]
    Unload,

    /// <summary><c>model.attribute</c> (<see cref="AttributeArguments"/> → Inseq JSON in the body).</summary>
    [JsonStringEnumMemberName("attribute")]
    Attribute,

    /// <summary>Interrupts a running request (<see cref="CancelArguments"/>); never answered.</summary>
    [JsonStringEnumMemberName("cancel")]
    Cancel,

    /// <summary>Answers, then ends the worker.</summary>
    [JsonStringEnumMemberName("shutdown")]
    Shutdown,

    /// <summary>Test: multiplies the float32 body with torch (<see cref="TestScaleArguments"/>).</summary>
    [JsonStringEnumMemberName("test.scale")]
    TestScale,

    /// <summary>Test: raises a Python ValueError (<see cref="TestFailArguments"/>).</summary>
    [JsonStringEnumMemberName("test.fail")]
    TestFail,

    /// <summary>Test: sleeps in Python bytecode, interruptible (<see cref="TestSleepArguments"/>).</summary>
    [JsonStringEnumMemberName("test.sleep")]
    TestSleep,

    /// <summary>Test: blocks in one native call, not interruptible (<see cref="TestSleepArguments"/>).</summary>
    [JsonStringEnumMemberName("test.hang_native")]
    TestHangNative,

    /// <summary>Test: ends the process abruptly (<see cref="TestCrashArguments"/>).</summary>
    [JsonStringEnumMemberName("test.crash")]
    TestCrash,
}

/// <summary>Wire names and kinds of <see cref="WorkerOperation"/>.</summary>
internal static class WorkerOperations
{
    /// <summary>True for the <c>test.*</c> operations.</summary>
    public static bool IsTest(this WorkerOperation operation) => operation >= WorkerOperation.TestScale;

    /// <summary>The wire name (<c>attribute</c>, <c>test.crash</c>, ...).</summary>
    public static string WireName(this WorkerOperation operation) => operation switch
    {
        WorkerOperation.Init => "init",
        WorkerOperation.Probe => "probe",
        WorkerOperation.Load => "load",
        WorkerOperation.Unload => "unload",
        WorkerOperation.Attribute => "attribute",
        WorkerOperation.Cancel => "cancel",
        WorkerOperation.Shutdown => "shutdown",
        WorkerOperation.TestScale => "test.scale",
        WorkerOperation.TestFail => "test.fail",
        WorkerOperation.TestSleep => "test.sleep",
        WorkerOperation.TestHangNative => "test.hang_native",
        WorkerOperation.TestCrash => "test.crash",
        _ => throw new ArgumentOutOfRangeException(nameof(operation)),
    };

    /// <summary>The operation of a wire name; null when there is none.</summary>
    public static WorkerOperation? FromWireName(string name) =>
        Enum.GetValues<WorkerOperation>().Select(o => (WorkerOperation?)o).FirstOrDefault(o => o!.Value.WireName() == name);
}
