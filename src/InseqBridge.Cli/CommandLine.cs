using System.CommandLine;
using System.Text.RegularExpressions;
using InseqBridge.Cli.Commands;
using InseqBridge.Native;

namespace InseqBridge.Cli;

/// <summary>Builds the command tree and runs it with uniform error reporting.</summary>
public static class CommandLine
{
    /// <summary>Parses and runs <paramref name="args"/> on the process console; returns the exit code. Ctrl+C
    /// cancels the command's work within one step (exit code 130); a second Ctrl+C ends the process at once.
    /// Long work shows a progress line on a terminal's stderr every second.</summary>
    public static int Run(string[] args)
    {
        using var interrupt = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (!interrupt.IsCancellationRequested)
            {
                e.Cancel = true; // stop at the next step; a second Ctrl+C kills the process
                interrupt.Cancel();
            }
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return Run(args, Console.Out, Console.Error, interrupt.Token, Console.IsErrorRedirected ? null : Console.Error);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>Parses and runs <paramref name="args"/> writing to the given writers; returns the exit code
    /// (0 success, 1 failure, 2 usage error). Errors are reported as <c>error: ...</c> lines, never stack traces.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error) => Run(args, output, error, CancellationToken.None, null);

    /// <summary>Parses and runs <paramref name="args"/>; <paramref name="cancellation"/> stops the work like Ctrl+C
    /// (exit code 130) and <paramref name="progress"/>, when given, receives a progress line every second.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error, CancellationToken cancellation, TextWriter? progress)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        RootCommand root = CreateRoot();
        ParseResult parseResult = root.Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            error.WriteLine($"error: {TerminalText.Escape(ReadableParseError(FirstUsefulError(parseResult)))}");

            error.WriteLine("Run 'inseq-bridge --help' (or 'inseq-bridge COMMAND --help') for usage.");
            return ExitCodes.Usage;
        }

        using IDisposable context = CliContext.Begin(cancellation, progress, TimeSpan.FromSeconds(1));
        try
        {
            // --threads (any command): recorded now, applied when the command first loads a model.
            NativeRuntime.ConfigureEnvironment(new NativeRuntimeOptions { Threads = parseResult.GetValue<int?>("--threads") });
            return parseResult.Invoke(new InvocationConfiguration
            {
                Output = output,
                Error = error,
                EnableDefaultExceptionHandler = false,
            });
        }
        catch (Exception e)
        {
            return CliErrors.Report(e, error);
        }
    }

    /// <summary>
    /// <c>--threads N</c>, accepted by every command: libtorch's intra-op thread count (default: the CPUs the process
    /// may use, from its affinity mask and cgroup CPU quota; environment <c>INSEQ_BRIDGE_THREADS</c>).
    /// </summary>
    private static Option<int?> CreateThreadsOption() => new("--threads")
    {
        Description = "Threads for the native backend's operations (default: the CPUs this process may use: affinity mask and cgroup CPU quota).",
        HelpName = "N",
        Recursive = true,
        Validators = { result => { if (result.GetValueOrDefault<int?>() is < 1) { result.AddError("--threads must be at least 1."); } } },
    };
    /// <summary>The parse error to show: an unknown token explains "Required command was not provided" better, and a
    /// missing argument is named.</summary>
    private static string FirstUsefulError(ParseResult parseResult)
    {
        string first = parseResult.Errors[0].Message;
        string? unknown = parseResult.Errors.Select(e => e.Message).FirstOrDefault(m => m.StartsWith("Unrecognized", StringComparison.Ordinal));
        if (first.StartsWith("Required command was not provided", StringComparison.Ordinal) && unknown is not null)
        {
            return $"{unknown} Run 'inseq-bridge --help' for the commands.";
        }

        if (first.StartsWith("Required argument missing", StringComparison.Ordinal))
        {
            Command command = parseResult.CommandResult.Command;
            string names = string.Join(" ", command.Arguments.Select(a => a.Name));
            return $"{command.Name} needs {names} (e.g. inseq-bridge {command.Name} {names.ToLowerInvariant()}.json).";
        }

        return first;
    }

    /// <summary>System.CommandLine names .NET types in its conversion errors ("Cannot parse argument 'abc' for option
    /// '--n-steps' as expected type 'System.Nullable`1[System.Int32]'"); users get the kind of value instead.</summary>
    internal static string ReadableParseError(string message)
    {
        Match m = Regex.Match(message, @"^Cannot parse argument '(?<value>.*)' for (?:option|command|argument) '(?<name>[^']*)' as expected type '(?<type>[^']*)'", RegexOptions.Singleline);
        if (!m.Success)
        {
            return message;
        }

        string type = m.Groups["type"].Value;
        string kind = type.Contains("Int32", StringComparison.Ordinal) ? "a whole number (e.g. 10)"
            : type.Contains("Int64", StringComparison.Ordinal) ? "a whole number (e.g. 42)"
            : type.Contains("Double", StringComparison.Ordinal) || type.Contains("Single", StringComparison.Ordinal) ? "a number (e.g. 0.5)"
            : type.Contains("Boolean", StringComparison.Ordinal) ? "true or false"
            : "a valid value";
        return $"{m.Groups["name"].Value}: '{m.Groups["value"].Value}' is not {kind}.";
    }

    /// <summary>The root command with every subcommand registered.</summary>
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("inseq-bridge: feature attribution for Hugging Face sequence generation models.");
        root.Options.Add(CreateThreadsOption());

        // Main job.
        root.Subcommands.Add(AttributeCommand.Create());
        root.Subcommands.Add(AttributeDatasetCommand.Create());
        root.Subcommands.Add(AttributeContextCommand.Create());
        root.Subcommands.Add(MergeCommand.Create());

        // Inspection of saved results.
        root.Subcommands.Add(ShowCommand.Create());
        root.Subcommands.Add(ListMethodsCommand.Create());
        root.Subcommands.Add(ListStepFunctionsCommand.Create());
        root.Subcommands.Add(ExplainCommand.Create());

        // Probes of the native backend (tokenizer, forward pass, generation), used by the parity checks.
        root.Subcommands.Add(TokenizeCommand.Create());
        root.Subcommands.Add(RenderChatCommand.Create());
        root.Subcommands.Add(ForwardCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());

        // Cross-validation of the native backend against Python Inseq.
        root.Subcommands.Add(ParityCommand.Create());

        // The attribution service over HTTP.
        root.Subcommands.Add(ServeCommand.Create());
        return root;
    }
}
