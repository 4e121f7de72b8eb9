using System.Globalization;

namespace InseqBridge.Attribution;

/// <summary>
/// The declaration of one argument of an attribution method or step function: its Inseq name, type, default, allowed
/// values and documentation. Parsing (<see cref="ArgumentValues"/>), the HTTP API's lists and <c>inseq-bridge explain</c>
/// all read this one declaration.
/// </summary>
/// <param name="Name">Inseq's argument name (e.g. <c>n_steps</c>).</param>
/// <param name="Kind">The type of the value.</param>
/// <param name="Default">The default (int, double, bool or string), or null when there is none (the method decides, or
/// the argument is <see cref="Required"/>).</param>
/// <param name="Description">One sentence saying what the argument does.</param>
public sealed record ArgumentSpec(string Name, ArgumentKind Kind, object? Default, string Description)
{
    /// <summary>The values a <see cref="ArgumentKind.Choice"/> accepts (null for other kinds).</summary>
    public IReadOnlyList<string>? AllowedValues { get; init; }

    /// <summary>The smallest value a number accepts (null: no bound).</summary>
    public double? Minimum { get; init; }

    /// <summary>The largest value a number accepts (null: no bound).</summary>
    public double? Maximum { get; init; }

    /// <summary>Whether a value must be given (there is no default).</summary>
    public bool Required { get; init; }

    /// <summary>The type as <c>explain</c> prints it: <c>int</c>, <c>float</c>, <c>bool</c>, <c>str</c> or <c>choice</c>.</summary>
    public string TypeName => Kind switch
    {
        ArgumentKind.Integer => "int",
        ArgumentKind.Number => "float",
        ArgumentKind.Boolean => "bool",
        ArgumentKind.Choice => "choice",
        _ => "str",
    };

    /// <summary>The allowed values or range in words (empty when anything of the type is accepted).</summary>
    public string Constraint
    {
        get
        {
            if (AllowedValues is { Count: > 0 } allowed)
            {
                return string.Join(", ", allowed);
            }

            return (Minimum, Maximum) switch
            {
                (double min, double max) => string.Create(CultureInfo.InvariantCulture, $"[{min}, {max}]"),
                (double min, null) => string.Create(CultureInfo.InvariantCulture, $">= {min}"),
                (null, double max) => string.Create(CultureInfo.InvariantCulture, $"<= {max}"),
                _ => string.Empty,
            };
        }
    }

    /// <summary>An integer argument.</summary>
    /// <param name="name">Inseq's name.</param>
    /// <param name="default">The default (null: none).</param>
    /// <param name="description">What it does.</param>
    /// <param name="minimum">The smallest accepted value (null: any).</param>
    public static ArgumentSpec Integer(string name, int? @default, string description, int? minimum = null) =>
        new(name, ArgumentKind.Integer, @default, description) { Minimum = minimum };

    /// <summary>A real-number argument.</summary>
    /// <param name="name">Inseq's name.</param>
    /// <param name="default">The default (null: none).</param>
    /// <param name="description">What it does.</param>
    /// <param name="minimum">The smallest accepted value (null: any).</param>
    /// <param name="maximum">The largest accepted value (null: any).</param>
    public static ArgumentSpec Number(string name, double? @default, string description, double? minimum = null, double? maximum = null) =>
        new(name, ArgumentKind.Number, @default, description) { Minimum = minimum, Maximum = maximum };

    /// <summary>A boolean argument.</summary>
    /// <param name="name">Inseq's name.</param>
    /// <param name="default">The default.</param>
    /// <param name="description">What it does.</param>
    public static ArgumentSpec Boolean(string name, bool @default, string description) =>
        new(name, ArgumentKind.Boolean, @default, description);

    /// <summary>A free-text argument.</summary>
    /// <param name="name">Inseq's name.</param>
    /// <param name="default">The default (null: none).</param>
    /// <param name="description">What it does.</param>
    public static ArgumentSpec Text(string name, string? @default, string description) =>
        new(name, ArgumentKind.Text, @default, description);

    /// <summary>An argument that takes one of <paramref name="allowed"/>.</summary>
    /// <param name="name">Inseq's name.</param>
    /// <param name="default">The default (one of <paramref name="allowed"/>).</param>
    /// <param name="allowed">The accepted values.</param>
    /// <param name="description">What it does.</param>
    public static ArgumentSpec Choice(string name, string @default, IReadOnlyList<string> allowed, string description) =>
        new(name, ArgumentKind.Choice, @default, description) { AllowedValues = allowed };
}
