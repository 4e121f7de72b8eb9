using System.Text.Json.Nodes;
using Python.Runtime;

namespace InseqBridge.Python;

/// <summary>
/// The <c>test.*</c> operations (buffer transfer, Python errors, interruptible and native hangs, crashes), kept out of
/// the production dispatcher: <see cref="PythonSession.Dispatch"/> sends them here only when the backend was started
/// with <see cref="PythonBackendOptions.EnableTestOperations"/>, and the Python functions themselves refuse to run
/// until <c>enable_test_operations()</c> was called in that interpreter.
/// </summary>
internal static class PythonTestOperations
{
    /// <summary>Runs one test operation; the caller holds the GIL on the Python thread.</summary>
    public static PythonReply Run(PythonSession session, WorkerOperation op, JsonNode? args, byte[] body)
    {
        session.Invoke("enable_test_operations").Dispose();
        switch (op)
        {
            case WorkerOperation.TestScale:
                var scale = WorkerJson.Read<TestScaleArguments>(args, "test.scale arguments");
                return PythonSession.Bytes(session.Invoke("test_scale", PythonSession.ToByteArray(body), new PyFloat(scale.Factor)));
            case WorkerOperation.TestFail:
                session.Invoke("test_fail", new PyString(WorkerJson.Read<TestFailArguments>(args, "test.fail arguments").Message)).Dispose();
                return new PythonReply(null, []);
            case WorkerOperation.TestSleep:
                var sleep = WorkerJson.Read<TestSleepArguments>(args, "test.sleep arguments");
                return PythonSession.Json(session.Invoke("test_sleep", new PyFloat(sleep.Seconds)), asString: true);
            case WorkerOperation.TestHangNative:
                var hang = WorkerJson.Read<TestSleepArguments>(args, "test.hang_native arguments");
                return PythonSession.Json(session.Invoke("test_hang_native", new PyInt((long)hang.Seconds)), asString: true);
            case WorkerOperation.TestCrash:
                session.Invoke("test_crash", new PyString(WorkerJson.Read<TestCrashArguments>(args, "test.crash arguments").Kind)).Dispose();
                return new PythonReply(null, []);
            default:
                throw new PythonProtocolException($"'{op.WireName()}' is not a test operation.");
        }
    }
}
