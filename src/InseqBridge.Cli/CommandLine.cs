using System.CommandLine;
using InseqBridge.Cli.Commands;

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

    /// <summary>The root command with every subcommand registered.</summary>
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("inseq-bridge: feature attribution for Hugging Face sequence generation models.");

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
        root.Subcommands.Add(ForwardCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());

        // Cross-validation of the native backend against Python Inseq.
        root.Subcommands.Add(ParityCommand.Create());
        return root;
    }
}
