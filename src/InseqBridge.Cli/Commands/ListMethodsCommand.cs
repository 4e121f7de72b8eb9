using System.CommandLine;
using InseqBridge.Attribution;

namespace InseqBridge.Cli.Commands;

/// <summary><c>list-methods</c>: prints the ids of the attribution methods this process knows (built-in and
/// registered, <see cref="AttributionMethodRegistry"/>), one per line.</summary>
public static class ListMethodsCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var command = new Command("list-methods", "List the attribution method ids (details: explain ID).");
        command.SetAction(parseResult =>
        {
            foreach (string id in AttributionMethodRegistry.Ids)
            {
                parseResult.InvocationConfiguration.Output.WriteLine(id);
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
