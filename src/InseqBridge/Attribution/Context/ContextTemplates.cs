namespace InseqBridge.Attribution.Context;

/// <summary>Template filling and joining as Inseq's attribute-context does it.</summary>
public static class ContextTemplates
{
    /// <summary>Fills <c>{current}</c> and (when given) <c>{context}</c> of <paramref name="template"/>.</summary>
    /// <exception cref="ContextAttributionException">The template has <c>{context}</c> but no context is given.</exception>
    public static string Format(string template, string current, string? context = null)
    {
        ArgumentNullException.ThrowIfNull(template);
        if (context is null && template.Contains("{context}", StringComparison.Ordinal))
        {
            throw new ContextAttributionException($"Template '{template}' has a {{context}} placeholder but no context text is given; give the context or remove the placeholder.");
        }

        string text = template.Replace("{current}", current, StringComparison.Ordinal);
        return context is null ? text : text.Replace("{context}", context, StringComparison.Ordinal);
    }

    /// <summary>Joins two texts with <paramref name="separator"/> unless one already has it at the join.</summary>
    public static string ConcatWithSeparator(string first, string second, string separator)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        ArgumentNullException.ThrowIfNull(separator);
        bool needSeparator = !first.EndsWith(separator, StringComparison.Ordinal) && !second.StartsWith(separator, StringComparison.Ordinal);
        return needSeparator ? first + separator + second : first + second;
    }

    /// <summary>The text before the first <paramref name="placeholder"/> (the whole template when absent).</summary>
    public static string Before(string template, string placeholder)
    {
        ArgumentNullException.ThrowIfNull(template);
        int at = template.IndexOf(placeholder, StringComparison.Ordinal);
        return at < 0 ? template : template[..at];
    }

    /// <summary>The text after the first <paramref name="placeholder"/> (empty when absent).</summary>
    public static string After(string template, string placeholder)
    {
        ArgumentNullException.ThrowIfNull(template);
        int at = template.IndexOf(placeholder, StringComparison.Ordinal);
        return at < 0 ? string.Empty : template[(at + placeholder.Length)..];
    }
}
