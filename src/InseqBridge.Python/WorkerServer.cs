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
        int code = RunAsync(input, output, maxBody).GetAwaiter().GetResult();
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

    internal static async Task<int> RunAsync(Stream input, Stream output, int maxBody)
    {
        var writeLock = new SemaphoreSlim(1, 1);
        var running = new ConcurrentDictionary<long, CancellationTokenSource>();
        PythonSession? session = null;
        Task? current = null;

        async Task Reply(JsonObject header, byte[] body)
        {
            await writeLock.WaitAsync().ConfigureAwait(false);
            try
            {
                await WorkerProtocol.WriteAsync(output, new WorkerMessage(header, body), maxBody).ConfigureAwait(false);
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
                await Reply(new JsonObject { ["id"] = -1, ["ok"] = false, ["error"] = Error("protocol", e) }, []).ConfigureAwait(false);
                return 2;
            }

            if (message is null)
            {
                return 0;
            }

            long id = message.Header["id"]?.GetValue<long>() ?? -1;
            string op = message.Header["op"]?.GetValue<string>() ?? string.Empty;
            JsonObject args = message.Header["args"] as JsonObject ?? [];
            switch (op)
            {
                case "shutdown":
                    await Reply(new JsonObject { ["id"] = id, ["ok"] = true }, []).ConfigureAwait(false);
                    return 0;
                case "cancel":
                    if (running.TryGetValue(args["target"]?.GetValue<long>() ?? -1, out var cts))
                    {
                        await cts.CancelAsync().ConfigureAwait(false);
                    }

                    continue;
                case "init":
                    try
                    {
                        var env = args["environment"]!;
                        var environment = new PythonEnvironment(
                            env["library"]!.GetValue<string>(),
                            env["executable"]?.GetValue<string>(),
                            env["version"]?.GetValue<string>(),
                            env["sys_path"]?.AsArray().Select(n => n!.GetValue<string>()).ToList() ?? [],
                            env["home"]?.GetValue<string>(),
                            env["source"]?.GetValue<string>() ?? "worker");
                        session = PythonSession.Start(environment, args["module_directory"]?.GetValue<string>());
                        await Reply(new JsonObject { ["id"] = id, ["ok"] = true, ["result"] = new JsonObject { ["pid"] = Environment.ProcessId } }, []).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        await Reply(new JsonObject { ["id"] = id, ["ok"] = false, ["error"] = Error(Kind(e), e) }, []).ConfigureAwait(false);
                    }

                    continue;
            }

            if (session is null)
            {
                await Reply(new JsonObject { ["id"] = id, ["ok"] = false, ["error"] = Error("protocol", new PythonProtocolException("The worker received a request before 'init'.")) }, []).ConfigureAwait(false);
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
                JsonObject header;
                byte[] body = [];
                try
                {
                    PythonReply reply = s.Dispatch(op, args, message.Body, source.Token);
                    header = new JsonObject { ["id"] = id, ["ok"] = true, ["result"] = reply.Result };
                    body = reply.Body;
                }
                catch (OperationCanceledException e)
                {
                    header = new JsonObject { ["id"] = id, ["ok"] = false, ["error"] = Error("cancelled", e) };
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    header = new JsonObject { ["id"] = id, ["ok"] = false, ["error"] = Error(Kind(e), e) };
                }
                finally
                {
                    running.TryRemove(id, out _);
                    source.Dispose();
                }

                try
                {
                    await Reply(header, body).ConfigureAwait(false);
                }
                catch (PythonProtocolException e)
                {
                    await Reply(new JsonObject { ["id"] = id, ["ok"] = false, ["error"] = Error("protocol", e) }, []).ConfigureAwait(false);
                }
            });
        }
    }

    private static string Kind(Exception e) => e switch
    {
        PythonExecutionException => "python",
        PythonEnvironmentException => "environment",
        PythonProtocolException => "protocol",
        _ => "internal",
    };

    internal static JsonObject Error(string kind, Exception e)
    {
        var error = new JsonObject { ["kind"] = kind, ["type"] = e.GetType().Name, ["message"] = e.Message };
        switch (e)
        {
            case PythonExecutionException p:
                error["type"] = p.PythonType;
                error["message"] = p.PythonMessage;
                error["traceback"] = p.PythonTraceback;
                break;
            case PythonEnvironmentException env:
                error["tried"] = new JsonArray([.. env.Tried.Select(t => (JsonNode?)JsonValue.Create(t))]);
                error["missing"] = new JsonArray([.. env.MissingModules.Select(t => (JsonNode?)JsonValue.Create(t))]);
                break;
            default:
                error["traceback"] = e.ToString();
                break;
        }

        return error;
    }
}
