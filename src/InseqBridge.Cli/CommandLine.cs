using System.CommandLine;
using InseqBridge.Cli.Commands;
using InseqBridge.TorchSharp;

namespace InseqBridge.Cli;

/// <summary>Builds the command tree and runs it with uniform error reporting.</summary>
public static class CommandLine
{
    /// <summary>Parses and runs <paramref name="args"/> on the process console; returns the exit code.</summary>
    public static int Run(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Parses and runs <paramref name="args"/> writing to the given writers; returns the exit code
    /// (0 success, 1 failure, 2 usage error). Errors are reported as <c>error: ...</c> lines, never stack traces.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        RootCommand root = CreateRoot();
        ParseResult parseResult = root.Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            error.WriteLine($"error: {parseResult.Errors[0].Message}");

            error.WriteLine("Run 'inseq-bridge --help' (or 'inseq-bridge COMMAND --help') for usage.");
            return ExitCodes.Usage;
        }

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

    /// <summary>The root command with every subcommand registered.</summary>
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("inseq-bridge: feature attribution for Hugging Face sequence generation models.");
        root.Options.Add(CreateThreadsOption());

        // Main job.
        root.Subcommands.Add(AttributeCommand.Create());
        root.Subcommands.Add(AttributeDatasetCommand.Create());
        root.Subcommands.Add(MergeCommand.Create());

        // Inspection of saved results.
        root.Subcommands.Add(ShowCommand.Create());
        root.Subcommands.Add(ListMethodsCommand.Create());
        root.Subcommands.Add(ListStepFunctionsCommand.Create());

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
