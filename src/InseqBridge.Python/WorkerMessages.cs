using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace InseqBridge.Python;

/// <summary>The header of a request on the worker channel.</summary>
/// <param name="Id">Request id, echoed by the reply.</param>
/// <param name="Op">The operation.</param>
/// <param name="Args">The operation's arguments (one of the <c>*Arguments</c> records), null when it takes none.</param>
internal sealed record WorkerRequest(long Id, WorkerOperation Op, JsonNode? Args = null);

/// <summary>The header of a reply on the worker channel.</summary>
/// <param name="Id">The request's id (-1 when the request could not be read).</param>
/// <param name="Ok">True when the operation succeeded.</param>
/// <param name="Result">The operation's JSON result (one of the <c>*Result</c> records), null when it returns none.</param>
/// <param name="Error">What failed, when <paramref name="Ok"/> is false.</param>
internal sealed record WorkerReply(long Id, bool Ok, JsonNode? Result = null, WorkerError? Error = null);

/// <summary>The kind of a failure reported by the worker, mapped back to the backend's exception types.</summary>
internal enum WorkerErrorKind
{
    /// <summary>Python raised (<see cref="PythonExecutionException"/>).</summary>
    [JsonStringEnumMemberName("python")]
    Python,

    /// <summary>Python could not start or import (<see cref="PythonEnvironmentException"/>).</summary>
    [JsonStringEnumMemberName("environment")]
    Environment,

    /// <summary>A malformed or unexpected message (<see cref="PythonProtocolException"/>).</summary>
    [JsonStringEnumMemberName("protocol")]
    Protocol,

    /// <summary>The request was cancelled.</summary>
    [JsonStringEnumMemberName("cancelled")]
    Cancelled,

    /// <summary>Anything else (<see cref="PythonBackendException"/>).</summary>
    [JsonStringEnumMemberName("internal")]
    Internal,
}

/// <summary>A failure reported by the worker.</summary>
/// <param name="Kind">Which exception it maps to.</param>
/// <param name="Type">The Python (or .NET) exception type name.</param>
/// <param name="Message">The exception's message.</param>
/// <param name="Traceback">The Python traceback (or .NET stack), when known.</param>
/// <param name="Tried">Environment errors: the Pythons tried.</param>
/// <param name="Missing">Environment errors: the modules missing.</param>
internal sealed record WorkerError(
    WorkerErrorKind Kind,
    string Type,
    string Message,
    string? Traceback = null,
    IReadOnlyList<string>? Tried = null,
    IReadOnlyList<string>? Missing = null);

/// <summary>The Python a worker starts (a <see cref="PythonEnvironment"/> on the wire).</summary>
internal sealed record WorkerEnvironment(string Library, string? Executable, string? Version, IReadOnlyList<string> SysPath, string? Home, string Source)
{
    public static WorkerEnvironment From(PythonEnvironment environment) => new(
        environment.LibraryPath, environment.Executable, environment.Version, environment.SysPath, environment.Home, environment.Source);

    public PythonEnvironment ToEnvironment() => new(Library, Executable, Version, SysPath ?? [], Home, Source ?? "worker");
}

/// <summary><see cref="WorkerOperation.Init"/>.</summary>
internal sealed record InitArguments(WorkerEnvironment Environment, string? ModuleDirectory);

/// <summary>Result of <see cref="WorkerOperation.Init"/>.</summary>
internal sealed record InitResult(int Pid);

/// <summary><see cref="WorkerOperation.Probe"/>.</summary>
internal sealed record ProbeArguments(IReadOnlyList<string> Modules);

/// <summary>Result of <see cref="WorkerOperation.Probe"/> (what <c>inseq_bridge_worker.probe</c> returns).</summary>
internal sealed record ProbeResult(string Python, string Executable, string? Prefix, IReadOnlyDictionary<string, ModuleProbe> Modules);

/// <summary>One module of a <see cref="ProbeResult"/>: its version, or why it did not import.</summary>
internal sealed record ModuleProbe(string? Version, string? Error);

/// <summary><see cref="WorkerOperation.Load"/>; also sent with each attribution so a restarted worker can load again.</summary>
internal sealed record LoadArguments(string Handle, string Model, string Method, JsonObject LoadKwargs);

/// <summary>Result of <see cref="WorkerOperation.Load"/> (what <c>inseq_bridge_worker.load_model</c> returns).</summary>
internal sealed record LoadResult(string? ModelName, string? ModelClass, string? TokenizerName, string? TokenizerClass, bool IsEncoderDecoder, string? DefaultMethod);

/// <summary><see cref="WorkerOperation.Unload"/>.</summary>
internal sealed record UnloadArguments(string Handle);

/// <summary><see cref="WorkerOperation.Attribute"/>: <c>model.attribute(**Kwargs)</c> after <c>set_seed(Seed)</c>.</summary>
internal sealed record AttributeArguments(string Handle, JsonObject Kwargs, long Seed, LoadArguments Load);

/// <summary><see cref="WorkerOperation.Cancel"/>.</summary>
internal sealed record CancelArguments(long Target);

/// <summary><see cref="WorkerOperation.TestScale"/>.</summary>
internal sealed record TestScaleArguments(double Factor);

/// <summary><see cref="WorkerOperation.TestFail"/>.</summary>
internal sealed record TestFailArguments(string Message);

/// <summary><see cref="WorkerOperation.TestSleep"/> and <see cref="WorkerOperation.TestHangNative"/>.</summary>
internal sealed record TestSleepArguments(double Seconds);

/// <summary><see cref="WorkerOperation.TestCrash"/>: <c>abort</c>, <c>exit</c> or <c>segfault</c>.</summary>
internal sealed record TestCrashArguments(string Kind);

/// <summary>Source-generated JSON of the worker channel's messages: snake_case names, enums by their wire names.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WorkerRequest))]
[JsonSerializable(typeof(WorkerReply))]
[JsonSerializable(typeof(InitArguments))]
[JsonSerializable(typeof(InitResult))]
[JsonSerializable(typeof(ProbeArguments))]
[JsonSerializable(typeof(ProbeResult))]
[JsonSerializable(typeof(LoadArguments))]
[JsonSerializable(typeof(LoadResult))]
[JsonSerializable(typeof(UnloadArguments))]
[JsonSerializable(typeof(AttributeArguments))]
[JsonSerializable(typeof(CancelArguments))]
[JsonSerializable(typeof(TestScaleArguments))]
[JsonSerializable(typeof(TestFailArguments))]
[JsonSerializable(typeof(TestSleepArguments))]
[JsonSerializable(typeof(TestCrashArguments))]
[JsonSerializable(typeof(string[]))]
internal sealed partial class WorkerJsonContext : JsonSerializerContext;

/// <summary>Conversions between the message records and the JSON nodes of a <see cref="WorkerMessage"/>.</summary>
internal static class WorkerJson
{
    /// <summary>A record as a JSON node.</summary>
    public static JsonNode? ToNode<T>(T value) =>
        JsonSerializer.SerializeToNode(value, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)WorkerJsonContext.Default.GetTypeInfo(typeof(T))!);

    /// <summary>A JSON node as a record.</summary>
    /// <exception cref="PythonProtocolException">The node is missing or does not have the record's shape.</exception>
    public static T Read<T>(JsonNode? node, string what)
        where T : class
    {
        try
        {
            return node?.Deserialize((System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)WorkerJsonContext.Default.GetTypeInfo(typeof(T))!)
                ?? throw new PythonProtocolException($"Missing {what}.");
        }
        catch (JsonException e)
        {
            throw new PythonProtocolException($"Malformed {what}: {e.Message}");
        }
    }

    /// <summary>The header of a request.</summary>
    public static JsonObject Header(WorkerRequest request) => (JsonObject)ToNode(request)!;

    /// <summary>The header of a reply.</summary>
    public static JsonObject Header(WorkerReply reply) => (JsonObject)ToNode(reply)!;
}
