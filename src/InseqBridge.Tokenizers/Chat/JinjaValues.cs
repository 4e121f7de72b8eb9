using System.Globalization;
using System.Text;
using System.Text.Json;

namespace InseqBridge.Tokenizers.Chat;

/// <summary>Jinja's undefined value: prints as nothing, is falsy, iterates as empty.</summary>
internal sealed class JinjaUndefined
{
    public JinjaUndefined(string description) => Description = description;

    /// <summary>What was looked up (for error messages).</summary>
    public string Description { get; }
}

/// <summary>A list or tuple.</summary>
internal sealed class JinjaList : List<object?>
{
    public JinjaList() { }

    public JinjaList(IEnumerable<object?> items, bool isTuple = false) : base(items) => IsTuple = isTuple;

    public bool IsTuple { get; }
}

/// <summary>A dictionary keeping insertion order, as Python's.</summary>
internal sealed class JinjaDict
{
    private readonly OrderedDictionary<object, object?> _items = new(JinjaKeyComparer.Instance);

    public int Count => _items.Count;

    public IEnumerable<object> Keys => _items.Keys;

    public IEnumerable<KeyValuePair<object, object?>> Items => _items;

    public bool TryGet(object key, out object? value) => _items.TryGetValue(key, out value);

    public void Set(object key, object? value) => _items[key] = value;

    public bool ContainsKey(object key) => _items.ContainsKey(key);
}

/// <summary>The object <c>namespace(...)</c> returns: attributes that <c>set ns.x = ...</c> may change.</summary>
internal sealed class JinjaNamespace
{
    public JinjaDict Attributes { get; } = new();
}

/// <summary>A function callable from a template (global, method, macro).</summary>
internal sealed class JinjaCallable
{
    public JinjaCallable(string name, Func<IReadOnlyList<object?>, IReadOnlyDictionary<string, object?>, object?> invoke)
    {
        Name = name;
        Invoke = invoke;
    }

    public string Name { get; }

    public Func<IReadOnlyList<object?>, IReadOnlyDictionary<string, object?>, object?> Invoke { get; }
}

internal sealed class JinjaKeyComparer : IEqualityComparer<object>
{
    public static readonly JinjaKeyComparer Instance = new();

    public new bool Equals(object? x, object? y) => JinjaValues.AreEqual(x, y);

    public int GetHashCode(object obj) => obj switch
    {
        long l => ((double)l).GetHashCode(),
        double d => d.GetHashCode(),
        bool b => (b ? 1.0 : 0.0).GetHashCode(),
        _ => obj.GetHashCode(),
    };
}

/// <summary>Python semantics of template values: truth, equality, ordering, <c>str()</c>, <c>repr()</c>, JSON.</summary>
internal static class JinjaValues
{
    public static bool IsUndefined(object? value) => value is JinjaUndefined;

    public static bool IsTrue(object? value) => value switch
    {
        null or JinjaUndefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        JinjaList list => list.Count > 0,
        JinjaDict dict => dict.Count > 0,
        _ => true,
    };

    public static bool IsNumber(object? value) => value is long or double || value is bool;

    public static double ToDouble(object? value) => value switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new ChatTemplateException($"expected a number, got {TypeName(value)}"),
    };

    public static bool AreEqual(object? x, object? y)
    {
        if (x is JinjaUndefined || y is JinjaUndefined)
        {
            return x is JinjaUndefined && y is JinjaUndefined;
        }

        if (IsNumber(x) && IsNumber(y))
        {
            return ToDouble(x) == ToDouble(y);
        }

        return (x, y) switch
        {
            (null, null) => true,
            (null, _) or (_, null) => false,
            (string a, string b) => string.Equals(a, b, StringComparison.Ordinal),
            (JinjaList a, JinjaList b) => a.Count == b.Count && a.Zip(b).All(p => AreEqual(p.First, p.Second)),
            (JinjaDict a, JinjaDict b) => a.Count == b.Count
                && a.Items.All(p => b.TryGet(p.Key, out object? other) && AreEqual(p.Value, other)),
            _ => ReferenceEquals(x, y),
        };
    }

    public static int Compare(object? x, object? y)
    {
        if (IsNumber(x) && IsNumber(y))
        {
            return ToDouble(x).CompareTo(ToDouble(y));
        }

        if (x is string a && y is string b)
        {
            return string.CompareOrdinal(a, b);
        }

        if (x is JinjaList la && y is JinjaList lb)
        {
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
            {
                int c = Compare(la[i], lb[i]);
                if (c != 0)
                {
                    return c;
                }
            }

            return la.Count.CompareTo(lb.Count);
        }

        throw new ChatTemplateException($"cannot compare {TypeName(x)} with {TypeName(y)}");
    }

    public static string TypeName(object? value) => value switch
    {
        null => "none",
        JinjaUndefined u => $"undefined ({u.Description})",
        bool => "bool",
        long => "int",
        double => "float",
        string => "string",
        JinjaList { IsTuple: true } => "tuple",
        JinjaList => "list",
        JinjaDict => "dict",
        JinjaNamespace => "namespace",
        JinjaCallable => "function",
        _ => "object",
    };

    /// <summary>Python's <c>str(value)</c> as Jinja prints it; undefined prints as nothing.</summary>
    public static string ToStr(object? value) => value switch
    {
        null => "None",
        JinjaUndefined => "",
        string s => s,
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FloatRepr(d),
        _ => Repr(value),
    };

    /// <summary>Python's <c>repr(value)</c>.</summary>
    public static string Repr(object? value)
    {
        switch (value)
        {
            case string s:
                return StringRepr(s);
            case JinjaList list:
                {
                    string inner = string.Join(", ", list.Select(Repr));
                    return list.IsTuple ? (list.Count == 1 ? $"({inner},)" : $"({inner})") : $"[{inner}]";
                }

            case JinjaDict dict:
                return "{" + string.Join(", ", dict.Items.Select(p => Repr(p.Key) + ": " + Repr(p.Value))) + "}";
            case JinjaNamespace:
                return "<Namespace>";
            case JinjaCallable c:
                return $"<function {c.Name}>";
            default:
                return ToStr(value);
        }
    }

    private static string StringRepr(string s)
    {
        char quote = s.Contains('\'', StringComparison.Ordinal) && !s.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        var builder = new StringBuilder().Append(quote);
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                default:
                    if (c == quote)
                    {
                        builder.Append('\\').Append(c);
                    }
                    else if (c < 0x20 || c == 0x7f)
                    {
                        builder.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
                    }
                    else
                    {
                        builder.Append(c);
                    }

                    break;
            }
        }

        return builder.Append(quote).ToString();
    }

    /// <summary>Python's <c>repr(float)</c>: shortest round-trip digits, exponent form below 1e-4 and from 1e16.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d))
        {
            return "nan";
        }

        if (double.IsInfinity(d))
        {
            return d > 0 ? "inf" : "-inf";
        }

        if (d == 0)
        {
            return double.IsNegative(d) ? "-0.0" : "0.0";
        }

        // Shortest round-trip mantissa digits and the decimal exponent.
        string shortest = d.ToString("R", CultureInfo.InvariantCulture);
        string digits;
        int exponent;
        string mantissa = shortest.TrimStart('-');
        int e = mantissa.IndexOfAny(['E', 'e']);
        int exp10 = 0;
        if (e >= 0)
        {
            exp10 = int.Parse(mantissa[(e + 1)..], CultureInfo.InvariantCulture);
            mantissa = mantissa[..e];
        }

        int dot = mantissa.IndexOf('.', StringComparison.Ordinal);
        string intPart = dot < 0 ? mantissa : mantissa[..dot];
        string fracPart = dot < 0 ? "" : mantissa[(dot + 1)..];
        digits = (intPart + fracPart).TrimStart('0');
        int leadingZeros = (intPart + fracPart).Length - (intPart + fracPart).TrimStart('0').Length;
        exponent = intPart.Length - leadingZeros - 1 + exp10;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0)
        {
            digits = "0";
        }

        string sign = d < 0 ? "-" : "";
        if (exponent < -4 || exponent >= 16)
        {
            string m = digits.Length == 1 ? digits : digits[0] + "." + digits[1..];
            return $"{sign}{m}e{(exponent < 0 ? "-" : "+")}{Math.Abs(exponent):00}";
        }

        if (exponent < 0)
        {
            return sign + "0." + new string('0', -exponent - 1) + digits;
        }

        if (digits.Length <= exponent + 1)
        {
            return sign + digits + new string('0', exponent + 1 - digits.Length) + ".0";
        }

        return sign + digits[..(exponent + 1)] + "." + digits[(exponent + 1)..];
    }

    /// <summary>Python's <c>json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=sortKeys)</c>, which is what
    /// transformers' <c>tojson</c> filter calls.</summary>
    public static string ToJson(object? value, int? indent, bool sortKeys, bool ensureAscii = false, (string Item, string Key)? separators = null)
    {
        var builder = new StringBuilder();
        var format = new JsonFormat(indent, sortKeys, ensureAscii, separators ?? (indent is null ? ", " : ",", ": "));
        WriteJson(builder, value, format, 0);
        return builder.ToString();
    }

    private sealed record JsonFormat(int? Indent, bool SortKeys, bool EnsureAscii, (string Item, string Key) Separators);

    private static void WriteJson(StringBuilder builder, object? value, JsonFormat format, int level)
    {
        if (level > JinjaParser.MaxDepth)
        {
            throw new ChatTemplateException("tojson: value nested too deeply");
        }

        switch (value)
        {
            case null:
                builder.Append("null");
                break;
            case JinjaUndefined u:
                throw new ChatTemplateException($"tojson: {u.Description} is undefined");
            case bool b:
                builder.Append(b ? "true" : "false");
                break;
            case long l:
                builder.Append(l.ToString(CultureInfo.InvariantCulture));
                break;
            case double d:
                builder.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : FloatRepr(d));
                break;
            case string s:
                WriteJsonString(builder, s, format.EnsureAscii);
                break;
            case JinjaList list:
                WriteJsonContainer(builder, '[', ']', list.Select(item => ((string?)null, item)).ToList(), format, level);
                break;
            case JinjaDict dict:
                {
                    var items = dict.Items.Select(p => ((string?)JsonKey(p.Key), p.Value)).ToList();
                    if (format.SortKeys)
                    {
                        items.Sort((a, b) => string.CompareOrdinal(a.Item1, b.Item1));
                    }

                    WriteJsonContainer(builder, '{', '}', items, format, level);
                    break;
                }

            case JinjaNamespace ns:
                WriteJson(builder, ns.Attributes, format, level);
                break;
            default:
                throw new ChatTemplateException($"tojson: a {TypeName(value)} is not JSON serializable");
        }
    }

    private static string JsonKey(object key) => key switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        null => "null",
        _ => ToStr(key),
    };

    private static void WriteJsonContainer(StringBuilder builder, char open, char close, List<(string? Key, object? Value)> items, JsonFormat format, int level)
    {
        if (items.Count == 0)
        {
            builder.Append(open).Append(close);
            return;
        }

        builder.Append(open);
        for (int i = 0; i < items.Count; i++)
        {
            if (i > 0)
            {
                builder.Append(format.Separators.Item);
            }

            if (format.Indent is { } indent)
            {
                builder.Append('\n').Append(' ', indent * (level + 1));
            }

            if (items[i].Key is { } key)
            {
                WriteJsonString(builder, key, format.EnsureAscii);
                builder.Append(format.Separators.Key);
            }

            WriteJson(builder, items[i].Value, format, level + 1);
        }

        if (format.Indent is { } closing)
        {
            builder.Append('\n').Append(' ', closing * level);
        }

        builder.Append(close);
    }

    private static void WriteJsonString(StringBuilder builder, string s, bool ensureAscii)
    {
        builder.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                case '\b': builder.Append("\\b"); break;
                case '\f': builder.Append("\\f"); break;
                default:
                    if (c < 0x20 || (ensureAscii && c > 0x7f))
                    {
                        builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                    }
                    else
                    {
                        builder.Append(c);
                    }

                    break;
            }
        }

        builder.Append('"');
    }

    /// <summary>Converts parsed JSON (messages, tools, extra variables) to template values, keeping key order.</summary>
    public static object? FromJson(JsonElement element, int depth = 0)
    {
        if (depth > JinjaParser.MaxDepth)
        {
            throw new ChatTemplateException($"the template input is nested deeper than {JinjaParser.MaxDepth} levels");
        }

        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                {
                    var dict = new JinjaDict();
                    foreach (JsonProperty property in element.EnumerateObject())
                    {
                        dict.Set(property.Name, FromJson(property.Value, depth + 1));
                    }

                    return dict;
                }

            case JsonValueKind.Array:
                return new JinjaList(element.EnumerateArray().Select(e => FromJson(e, depth + 1)));
            case JsonValueKind.String:
                return element.GetString();
            case JsonValueKind.Number:
                return element.TryGetInt64(out long l) && !element.GetRawText().Contains('.', StringComparison.Ordinal)
                    && !element.GetRawText().Contains('e', StringComparison.OrdinalIgnoreCase)
                    ? l
                    : element.GetDouble();
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            default:
                return null;
        }
    }

    /// <summary>Converts .NET values (strings, numbers, bools, lists, dictionaries) to template values.</summary>
    public static object? FromObject(object? value, int depth = 0)
    {
        if (depth > JinjaParser.MaxDepth)
        {
            throw new ChatTemplateException($"the template input is nested deeper than {JinjaParser.MaxDepth} levels");
        }

        switch (value)
        {
            case null: return null;
            case string or bool or long or double or JinjaList or JinjaDict or JinjaUndefined or JinjaCallable or JinjaNamespace: return value;
            case int i: return (long)i;
            case float f: return (double)f;
            case decimal m: return (double)m;
            case JsonElement e: return FromJson(e, depth);
            case System.Collections.IDictionary dictionary:
                {
                    var dict = new JinjaDict();
                    foreach (System.Collections.DictionaryEntry entry in dictionary)
                    {
                        dict.Set(FromObject(entry.Key, depth + 1) ?? "None", FromObject(entry.Value, depth + 1));
                    }

                    return dict;
                }

            case System.Collections.IEnumerable items:
                return new JinjaList(items.Cast<object?>().Select(item => FromObject(item, depth + 1)));
            default:
                return Convert.ToString(value, CultureInfo.InvariantCulture);
        }
    }
}
