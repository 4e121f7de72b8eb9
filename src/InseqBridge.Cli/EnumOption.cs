using System.CommandLine;
using System.CommandLine.Parsing;

namespace InseqBridge.Cli;

/// <summary>
/// Options whose value is one of a fixed set of spellings (<c>--backend native|python</c>, <c>--save-format 0.6|0.7</c>)
/// parsed straight into the API's enum. The spellings are matched exactly (lowercase, Inseq's own names), listed in
/// <c>--help</c> and offered for completion; any other value is a one-line usage error naming the option and the
/// allowed values, without .NET type names.
/// </summary>
public static class EnumOption
{
    /// <summary>Creates <c>name</c> parsed into <typeparamref name="TEnum"/>; null when the option is not given (the
    /// command applies its default, which <paramref name="description"/> should state).</summary>
    /// <param name="name">Option name, e.g. <c>--mode</c>.</param>
    /// <param name="description">Help text.</param>
    /// <param name="values">Each accepted spelling and the value it stands for, in the order shown.</param>
    public static Option<TEnum?> Create<TEnum>(string name, string description, IReadOnlyList<KeyValuePair<string, TEnum>> values)
        where TEnum : struct, Enum
    {
        ArgumentNullException.ThrowIfNull(values);
        string[] spellings = [.. values.Select(v => v.Key)];
        var option = new Option<TEnum?>(name)
        {
            Description = description,
            HelpName = string.Join("|", spellings),
            CustomParser = result => Parse(result, name, values),
        };
        option.CompletionSources.Add(spellings);
        return option;
    }

    /// <summary>The spelling of <paramref name="value"/> in <paramref name="values"/> (for messages).</summary>
    public static string Spelling<TEnum>(IReadOnlyList<KeyValuePair<string, TEnum>> values, TEnum value)
        where TEnum : struct, Enum =>
        values.First(v => EqualityComparer<TEnum>.Default.Equals(v.Value, value)).Key;

    private static TEnum? Parse<TEnum>(ArgumentResult result, string name, IReadOnlyList<KeyValuePair<string, TEnum>> values)
        where TEnum : struct, Enum
    {
        if (result.Tokens.Count == 0)
        {
            return null;
        }

        string token = result.Tokens[^1].Value;
        foreach (var (spelling, value) in values)
        {
            if (string.Equals(spelling, token, StringComparison.Ordinal))
            {
                return value;
            }
        }

        result.AddError($"{name}: '{token}' is not one of {string.Join(", ", values.Select(v => v.Key))}.");
        return null;
    }
}
