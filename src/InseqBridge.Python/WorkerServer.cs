using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Microsoft.Win32.SafeHandles;

namespace InseqBridge.Python;

/// <summary>
/// The worker side of the channel: run by <c>InseqBridge.Python.Worker</c> in a child process. Reads requests from
/// stdin, runs them in this process's embedded Python and writes replies. On Unix the protocol moves to a private
/// duplicate of fd 1 and fd 1 is pointed at stderr, so nothing Python or native code prints can corrupt a frame.
/// </summary>
public static partial class WorkerServer
{
    /// <summary>
    /// Environment variable a worker must be started with (value <c>1</c>) to run the <c>test.*</c> operations; the
    /// backend sets it only when <see cref="PythonBackendOptions.EnableTestOperations"/> is true.
    /// </summary>
    public const string TestOperationsVariable = "INSEQBRIDGE_WORKER_TEST_OPERATIONS";

    /// <summary>Serves requests until stdin closes or a shutdown request arrives; returns the exit code.</summary>
    /// <param name="args">Command-line arguments: <c>--max-message-bytes N</c> (optional).</param>
    public static int Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        int maxBody = 1 << 30;
        int at = Array.IndexOf(args, "--max-message-bytes");
        if (at >= 0 && at + 1 < args.Length && int.TryParse(args[at + 1], out int m))
        {
            maxBody = m;
        }

        Stream input = Console.OpenStandardInput();
        Stream output = OpenProtocolOutput();
        bool testOperations = Environment.GetEnvironmentVariable(TestOperationsVariable) == "1";
        int code = RunAsync(input, output, maxBody, testOperations).GetAwaiter().GetResult();
        output.Flush();
        Console.Error.Flush();
        if (!OperatingSystem.IsWindows())
        {
            // Leave without finalizing the embedded interpreter: tearing down Python (and torch's threads) under a
            // shutting-down .NET runtime can crash, and the worker holds nothing that needs an orderly exit.
            Exit(code);
        }

        return code;
    }

    [LibraryImport("libc", EntryPoint = "_exit")]
    private static partial void Exit(int status);

    private static Stream OpenProtocolOutput()
    {
        if (OperatingSystem.IsWindows())
        {
            return Console.OpenStandardOutput();
        }

        int fd = Dup(1);
        if (fd < 0 || Dup2(2, 1) < 0)
        {
            return Console.OpenStandardOutput();
        }

        return new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, bufferSize: 0);
    }

    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    private static partial int Dup(int fd);

    [LibraryImport("libc", EntryPoint = "dup2", SetLastError = true)]
    private static partial int Dup2(int fd, int fd2);

    internal static async Task<int> RunAsync(Stream input, Stream output, int maxBody, bool testOperations = false)
    {
        var writeLock = new SemaphoreSlim(1, 1);
        var running = new ConcurrentDictionary<long, CancellationTokenSource>();
        PythonSession? session = null;
        Task? current = null;

        async Task Reply(WorkerReply reply, byte[] body)
        {
            await writeLock.WaitAsync().ConfigureAwait(false);
            try
            {
                await WorkerProtocol.WriteAsync(output, new WorkerMessage(WorkerJson.Header(reply), body), maxBody).ConfigureAwait(false);
            }
            finally
            {
                writeLock.Release();
            }
        }

        while (true)
        {
            WorkerMessage? message;
            try
            {
                message = await WorkerProtocol.ReadAsync(input, maxBody).ConfigureAwait(false);
            }
            catch (PythonProtocolException e)
            {
                await Reply(new WorkerReply(-1, false, Error: Error(WorkerErrorKind.Protocol, e)), []).ConfigureAwait(false);
                return 2;
            }

            if (message is null)
            {
                return 0;
            }

            WorkerRequest request;
            try
            {
                request = WorkerJson.Read<WorkerRequest>(message.Header, "request header");
            }
            catch (PythonProtocolException e)
            {
                // An unknown operation or a malformed header: answer the request (its id when readable) and go on.
                long unreadable = message.Header["id"] is JsonValue v && v.TryGetValue(out long n) ? n : -1;
                Exception reason = message.Header["op"] is JsonValue o && o.TryGetValue(out string? name) && WorkerOperations.FromWireName(name) is null
                    ? new PythonProtocolException($"Unknown operation '{name}'.")
                    : e;
                await Reply(new WorkerReply(unreadable, false, Error: Error(WorkerErrorKind.Protocol, reason)), []).ConfigureAwait(false);
                continue;
            }

            long id = request.Id;
            switch (request.Op)
            {
                case WorkerOperation.Shutdown:
                    await Reply(new WorkerReply(id, true), []).ConfigureAwait(false);
                    return 0;
                case WorkerOperation.Cancel:
                    try
                    {
                        if (running.TryGetValue(WorkerJson.Read<CancelArguments>(request.Args, "cancel arguments").Target, out var cts))
                        {
                            await cts.CancelAsync().ConfigureAwait(false);
                        }
                    }
                    catch (PythonProtocolException)
                    {
                        // A cancel is never answered; a malformed one cancels nothing.
                    }

                    continue;
                case WorkerOperation.Init:
                    try
                    {
                        var init = WorkerJson.Read<InitArguments>(request.Args, "init arguments");
                        session = PythonSession.Start(init.Environment.ToEnvironment(), init.ModuleDirectory);
                        await Reply(new WorkerReply(id, true, WorkerJson.ToNode(new InitResult(Environment.ProcessId))), []).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        await Reply(new WorkerReply(id, false, Error: Error(Kind(e), e)), []).ConfigureAwait(false);
                    }

                    continue;
            }

            if (session is null)
            {
                var early = new PythonProtocolException("The worker received a request before 'init'.");
                await Reply(new WorkerReply(id, false, Error: Error(WorkerErrorKind.Protocol, early)), []).ConfigureAwait(false);
                continue;
            }

            if (current is not null)
            {
                await current.ConfigureAwait(false);
            }

            var source = new CancellationTokenSource();
            running[id] = source;
            PythonSession s = session;
            current = Task.Run(async () =>
            {
                WorkerReply reply;
                byte[] body = [];
                try
                {
                    PythonReply result = s.Dispatch(request.Op, request.Args, message.Body, testOperations, source.Token);
                    reply = new WorkerReply(id, true, result.Result);
                    body = result.Body;
                }
                catch (OperationCanceledException e)
                {
                    reply = new WorkerReply(id, false, Error: Error(WorkerErrorKind.Cancelled, e));
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    reply = new WorkerReply(id, false, Error: Error(Kind(e), e));
                }
                finally
                {
                    running.TryRemove(id, out _);
                    source.Dispose();
                }

                try
                {
                    await Reply(reply, body).ConfigureAwait(false);
                }
                catch (PythonProtocolException e)
                {
                    await Reply(new WorkerReply(id, false, Error: Error(WorkerErrorKind.Protocol, e)), []).ConfigureAwait(false);
                }
            });
        }
    }

    private static WorkerErrorKind Kind(Exception e) => e switch
    {
        PythonExecutionException => WorkerErrorKind.Python,
        PythonEnvironmentException => WorkerErrorKind.Environment,
        PythonProtocolException => WorkerErrorKind.Protocol,
        _ => WorkerErrorKind.Internal,
    };

    internal static WorkerError Error(WorkerErrorKind kind, Exception e) => e switch
    {
        PythonExecutionException p => new WorkerError(kind, p.PythonType, p.PythonMessage, p.PythonTraceback),
        PythonEnvironmentException env => new WorkerError(kind, e.GetType().Name, e.Message, Tried: [.. env.Tried], Missing: [.. env.MissingModules]),
        _ => new WorkerError(kind, e.GetType().Name, e.Message, e.ToString()),
    };
}
