using InseqBridge.Visualization;
using Spectre.Console;

namespace InseqBridge.Cli.Rendering;

/// <summary>Prints heatmaps: coloured Spectre.Console tables on a terminal, plain text when the output is
/// redirected, captured, or <c>--plain</c> is given. Both fit the terminal width.</summary>
public static class ConsoleHeatmap
{
    /// <summary>Writes <paramref name="sequences"/> to <paramref name="output"/>.</summary>
    public static void Write(TextWriter output, IReadOnlyList<SequenceHeatmaps> sequences, bool plain)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(sequences);
        bool terminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        if (terminal && !plain)
        {
            SpectreHeatmapRenderer.Render(AnsiConsole.Console, sequences);
        }
        else
        {
            output.Write(PlainTextHeatmap.Render(sequences, Width(terminal)));
        }
    }

    /// <summary>The width to fit: the terminal's, else <c>$COLUMNS</c>, else 120.</summary>
    public static int Width(bool terminal)
    {
        if (terminal)
        {
            try
            {
                if (Console.WindowWidth > 20)
                {
                    return Console.WindowWidth;
                }
            }
            catch (IOException)
            {
                // no console window: fall through
            }
        }

        return int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out int columns) && columns > 20 ? columns : 120;
    }
}
