using System.CommandLine;
using InseqBridge.Attribution;

namespace InseqBridge.Cli.Commands;

/// <summary><c>list-step-functions</c>: prints the ids of the built-in step functions, one per line.</summary>
public static class ListStepFunctionsCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var command = new Command("list-step-functions", "List the built-in step function ids.");
        command.SetAction(parseResult =>
        {
            foreach (string id in StepFunction.BuiltInIds)
            {
                parseResult.InvocationConfiguration.Output.WriteLine(id);
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
