using System.CommandLine;
using InseqBridge.Attribution;

namespace InseqBridge.Cli.Commands;

/// <summary><c>list-methods</c>: prints the ids of the attribution methods this build knows, one per line.</summary>
public static class ListMethodsCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var command = new Command("list-methods", "List the attribution method ids.");
        command.SetAction(parseResult =>
        {
            foreach (string id in AttributionMethod.KnownIds)
            {
                parseResult.InvocationConfiguration.Output.WriteLine(id);
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
