using System.Globalization;
using InseqBridge.Errors;

namespace InseqBridge.Attribution;

/// <summary>
/// The K=V arguments given to a method or step function, read against its <see cref="ArgumentSpec"/> declarations:
/// an argument not given reads as its declared default, a given one is parsed as its declared type and checked against
/// its declared range or allowed values. Unknown names are rejected when the values are created. Errors are
/// <see cref="InvalidRequestException"/>s naming the owner, the argument and what is accepted.
/// </summary>
public sealed class ArgumentValues
{
    private readonly string _owner;
    private readonly Dictionary<string, ArgumentSpec> _specs;
    private readonly IReadOnlyDictionary<string, string> _given;

    /// <summary>Reads <paramref name="given"/> against <paramref name="specs"/>.</summary>
    /// <param name="owner">How errors name the method or step function (e.g. <c>integrated_gradients</c>).</param>
    /// <param name="specs">The declared arguments.</param>
    /// <param name="given">The K=V arguments given.</param>
    /// <param name="acceptUndeclared">Whether names without a declaration are kept (user step functions that take any argument).</param>
    /// <exception cref="InvalidRequestException">A given name is not declared.</exception>
    public ArgumentValues(string owner, IReadOnlyList<ArgumentSpec> specs, IReadOnlyDictionary<string, string>? given, bool acceptUndeclared = false)
    {
        ArgumentNullException.ThrowIfNull(specs);
        _owner = owner;
        _specs = specs.ToDictionary(s => s.Name, StringComparer.Ordinal);
        _given = given ?? new Dictionary<string, string>();
        var unknown = _given.Keys.Where(k => !_specs.ContainsKey(k)).ToList();
        if (unknown.Count > 0 && !acceptUndeclared)
        {
            throw new InvalidRequestException($"{owner} does not accept argument(s): {string.Join(", ", unknown)}.");
        }
    }

    /// <summary>The arguments as given (text values).</summary>
    public IReadOnlyDictionary<string, string> Given => _given;

    /// <summary>Whether <paramref name="name"/> was given explicitly.</summary>
    public bool IsGiven(string name) => _given.ContainsKey(name);

    /// <summary>An integer argument (its default when not given).</summary>
    /// <exception cref="InvalidRequestException">Not an integer, out of range, or required and missing.</exception>
    public int Int(string name) => IntOrNull(name) ?? throw Missing(name);

    /// <summary>An integer argument, or its default (null when it has none).</summary>
    /// <exception cref="InvalidRequestException">Not an integer or out of range.</exception>
    public int? IntOrNull(string name)
    {
        long? value = LongOrNull(name);
        return value is long v
            ? v is >= int.MinValue and <= int.MaxValue ? (int)v : throw Invalid(name, "an integer", v.ToString(CultureInfo.InvariantCulture))
            : null;
    }

    /// <summary>A 64-bit integer argument, or its default (null when it has none).</summary>
    /// <exception cref="InvalidRequestException">Not an integer or out of range.</exception>
    public long? LongOrNull(string name)
    {
        ArgumentSpec spec = Spec(name, ArgumentKind.Integer);
        if (!_given.TryGetValue(name, out string? text))
        {
            return spec.Default is int d ? d : spec.Default is long l ? l : null;
        }

        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value))
        {
            throw Invalid(name, "an integer", text);
        }

        CheckRange(spec, value, text);
        return value;
    }

    /// <summary>A real-number argument (its default when not given).</summary>
    /// <exception cref="InvalidRequestException">Not a number, out of range, or required and missing.</exception>
    public double Number(string name) => NumberOrNull(name) ?? throw Missing(name);

    /// <summary>A real-number argument, or its default (null when it has none).</summary>
    /// <exception cref="InvalidRequestException">Not a number or out of range.</exception>
    public double? NumberOrNull(string name)
    {
        ArgumentSpec spec = Spec(name, ArgumentKind.Number);
        if (!_given.TryGetValue(name, out string? text))
        {
            return spec.Default is double d ? d : null;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
        {
            throw Invalid(name, "a number", text);
        }

        CheckRange(spec, value, text);
        return value;
    }

    /// <summary>A boolean argument (its default when not given).</summary>
    /// <exception cref="InvalidRequestException">Not true or false.</exception>
    public bool Bool(string name)
    {
        ArgumentSpec spec = Spec(name, ArgumentKind.Boolean);
        if (!_given.TryGetValue(name, out string? text))
        {
            return spec.Default is true;
        }

        return text.ToLowerInvariant() switch
        {
            "true" or "1" or "yes" => true,
            "false" or "0" or "no" => false,
            _ => throw Invalid(name, "true or false", text),
        };
    }

    /// <summary>A text or choice argument (its default when not given; required arguments must be given).</summary>
    /// <exception cref="InvalidRequestException">Not one of the allowed values, or required and missing.</exception>
    public string Text(string name) => TextOrNull(name) ?? throw Missing(name);

    /// <summary>A text or choice argument, or its default (null when it has none).</summary>
    /// <exception cref="InvalidRequestException">Not one of the allowed values.</exception>
    public string? TextOrNull(string name)
    {
        ArgumentSpec spec = Spec(name, null);
        if (spec.Kind is not (ArgumentKind.Text or ArgumentKind.Choice))
        {
            throw new InvalidOperationException($"Argument '{name}' of {_owner} is declared as {spec.TypeName}, not text.");
        }

        if (!_given.TryGetValue(name, out string? text))
        {
            return spec.Default as string;
        }

        if (spec.AllowedValues is { } allowed && !allowed.Contains(text, StringComparer.Ordinal))
        {
            throw new InvalidRequestException($"{_owner}: argument '{name}' must be one of {string.Join(", ", allowed)} (got '{text}').");
        }

        return text;
    }

    /// <summary>Parses and checks every given argument that has a declaration (for owners that keep the text values).</summary>
    /// <exception cref="InvalidRequestException">A value of the wrong type or out of range.</exception>
    public void CheckGiven()
    {
        foreach (string name in _given.Keys.Where(_specs.ContainsKey))
        {
            _ = _specs[name].Kind switch
            {
                ArgumentKind.Integer => LongOrNull(name),
                ArgumentKind.Number => NumberOrNull(name),
                ArgumentKind.Boolean => Bool(name),
                _ => (object?)TextOrNull(name),
            };
        }
    }

    private ArgumentSpec Spec(string name, ArgumentKind? kind)
    {
        // A method reading an argument it did not declare is a bug in the method, not a user error.
        if (!_specs.TryGetValue(name, out ArgumentSpec? spec))
        {
            throw new InvalidOperationException($"{_owner} reads argument '{name}' without declaring it.");
        }

        if (kind is ArgumentKind k && spec.Kind != k)
        {
            throw new InvalidOperationException($"Argument '{name}' of {_owner} is declared as {spec.TypeName}, not {k}.");
        }

        return spec;
    }

    private void CheckRange(ArgumentSpec spec, double value, string text)
    {
        bool tooSmall = spec.Minimum is double min && !(value >= min);
        bool tooLarge = spec.Maximum is double max && !(value <= max);
        if (tooSmall || tooLarge || double.IsNaN(value))
        {
            string range = spec.Minimum is not null && spec.Maximum is not null ? $"within {spec.Constraint}"
                : spec.Minimum is double m ? string.Create(CultureInfo.InvariantCulture, $"at least {m}")
                : spec.Constraint;
            throw new InvalidRequestException($"{_owner}: argument '{spec.Name}' must be {range} (got {text}).");
        }
    }

    private InvalidRequestException Invalid(string name, string what, string text) =>
        new($"{_owner}: argument '{name}' must be {what} (got '{text}').");

    private InvalidRequestException Missing(string name) =>
        new($"{_owner} requires argument {name} (e.g. {name}={Example(name)}).");

    private string Example(string name) => _specs[name] switch
    {
        { AllowedValues: [string first, ..] } => first,
        { Kind: ArgumentKind.Integer } => "1",
        { Kind: ArgumentKind.Number, Maximum: 1.0 } => "0.9",
        { Kind: ArgumentKind.Number } => "1.0",
        { Kind: ArgumentKind.Boolean } => "true",
        _ => "...",
    };
}
