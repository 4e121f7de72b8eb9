using System.CommandLine;
using InseqBridge.Attribution;

namespace InseqBridge.Cli.Commands;

/// <summary><c>list-step-functions</c>: prints the ids of the step functions this process knows (Inseq's built-in
/// ones, then registered ones, <see cref="StepFunctionRegistry"/>), one per line.</summary>
public static class ListStepFunctionsCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var command = new Command("list-step-functions", "List the step function ids (details: explain ID).");
        command.SetAction(parseResult =>
        {
            foreach (string id in StepFunctionRegistry.Ids)
            {
                parseResult.InvocationConfiguration.Output.WriteLine(id);
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
