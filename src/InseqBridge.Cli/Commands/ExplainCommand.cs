using System.CommandLine;
using System.Globalization;
using InseqBridge.Attribution;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// <c>explain ID</c>: prints what an attribution method or step function computes and its arguments (name, type,
/// default, allowed values), read from its descriptor in <see cref="AttributionMethodRegistry"/> or
/// <see cref="StepFunctionRegistry"/>. An unknown id is a usage error naming the closest ids.
/// </summary>
public static class ExplainCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var id = new Argument<string>("ID") { Description = "An attribution method or step function id (see list-methods, list-step-functions)." };
        var command = new Command("explain", "Describe an attribution method or step function: what it computes, its arguments and defaults.") { id };
        command.SetAction(parseResult =>
        {
            TextWriter output = parseResult.InvocationConfiguration.Output;
            string wanted = parseResult.GetValue(id)!;
            bool found = false;
            if (AttributionMethodRegistry.TryGet(wanted, out AttributionMethodDescriptor? method))
            {
                Write(output, method);
                found = true;
            }

            if (StepFunctionRegistry.TryGet(wanted, out StepFunctionDescriptor? step))
            {
                if (found)
                {
                    output.WriteLine();
                }

                Write(output, step);
                found = true;
            }

            if (!found)
            {
                IReadOnlyList<string> close = CloseIds.Of(wanted, AttributionMethodRegistry.Ids.Concat(StepFunctionRegistry.Ids).Distinct());
                string hint = close.Count > 0
                    ? $"Did you mean {string.Join(" or ", close)}?"
                    : "See list-methods and list-step-functions for the known ids.";
                throw new CliUsageException($"'{TerminalText.Escape(wanted)}' is neither an attribution method nor a step function. {hint}");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Writes the description of an attribution method.</summary>
    public static void Write(TextWriter output, AttributionMethodDescriptor method)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(method);
        output.WriteLine($"{method.Id} (attribution method)");
        output.WriteLine($"  {method.Summary}");
        output.WriteLine($"  output: {OutputText(method.Output)}");
        output.WriteLine($"  fast mode: {FastText(method)}");
        WriteArguments(output, method.Arguments, "--method-args");
    }

    /// <summary>Writes the description of a step function.</summary>
    public static void Write(TextWriter output, StepFunctionDescriptor step)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(step);
        output.WriteLine($"{step.Id} (step function)");
        output.WriteLine($"  {step.Summary}");
        if (step.NeedsExtraForwards)
        {
            output.WriteLine("  runs forwards of its own (contrastive inputs or dropout): requests using it run in reference mode");
        }

        if (step.AcceptsUndeclaredArguments)
        {
            output.WriteLine("  accepts any argument (passed on as given)");
        }

        WriteArguments(output, step.Arguments, "--step-scores-args / --attributed-fn-args");
    }

    private static void WriteArguments(TextWriter output, IReadOnlyList<ArgumentSpec> arguments, string flag)
    {
        if (arguments.Count == 0)
        {
            output.WriteLine("  arguments: none");
            return;
        }

        output.WriteLine($"  arguments ({flag} K=V):");
        string[] header = ["name", "type", "default", "allowed"];
        string[][] rows = [header, .. arguments.Select(a => new[] { a.Name, a.TypeName, DefaultText(a), a.Constraint.Length == 0 ? "any" : a.Constraint })];
        int[] widths = [.. Enumerable.Range(0, header.Length).Select(c => rows.Max(r => r[c].Length))];
        foreach (string[] row in rows)
        {
            output.WriteLine("    " + string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
        }

        foreach (ArgumentSpec argument in arguments)
        {
            output.WriteLine($"    {argument.Name}: {argument.Description}");
        }
    }

    private static string DefaultText(ArgumentSpec argument) => argument switch
    {
        { Required: true } => "(required)",
        { Default: null } => "(none)",
        { Default: bool b } => b ? "true" : "false",
        { Default: double d } => d.ToString("R", CultureInfo.InvariantCulture),
        { Default: IFormattable f } => f.ToString(null, CultureInfo.InvariantCulture),
        _ => argument.Default.ToString() ?? "(none)",
    };

    private static string OutputText(AttributionOutputKind kind) => kind switch
    {
        AttributionOutputKind.PerHiddenUnit => "one score per hidden unit of each token embedding (reduced to one per token by the default aggregation)",
        AttributionOutputKind.PerToken => "one score per token",
        AttributionOutputKind.PerLayer => "one score per token and layer",
        AttributionOutputKind.PerLayerAndHead => "one weight per token, layer and head",
        _ => "no attribution (step scores only)",
    };

    private static string FastText(AttributionMethodDescriptor method)
    {
        string rule = method.FastMode switch
        {
            FastModeRule.Unsupported => "no (runs in reference mode)",
            FastModeRule.NoAttribution => "yes (step scores only)",
            FastModeRule.AbsoluteGradient => "yes (|gradient|)",
            FastModeRule.GradientTimesInput => "yes (gradient x input)",
            _ => "yes (integrated gradients)",
        };
        return method.FastMode != FastModeRule.Unsupported && method.FastModeCondition is not null ? rule + ", for some configurations" : rule;
    }
}
