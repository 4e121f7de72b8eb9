using System.Globalization;
using System.Net;
using System.Text;

namespace InseqBridge.Tokenizers.Chat;

/// <summary>Jinja's built-in filters and tests (plus transformers' <c>tojson</c>), with Python's semantics.</summary>
internal sealed partial class JinjaInterpreter
{
    private object? ApplyFilter(string name, object? value, List<object?> args, Dictionary<string, object?> kwargs, int line)
    {
        object? Arg(int index, string keyword, object? fallback) =>
            kwargs.TryGetValue(keyword, out object? k) ? k : index < args.Count ? args[index] : fallback;

        try
        {
            switch (name)
            {
                case "trim":
                    return JinjaMethods.Strip(Text(value, name), Arg(0, "chars", null) as string, left: true, right: true);
                case "tojson":
                    {
                        // transformers' signature: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
                        object? indent = Arg(1, "indent", null);
                        (string Item, string Key)? separators = Arg(2, "separators", null) is JinjaList { Count: 2 } pair
                            ? (JinjaValues.ToStr(pair[0]), JinjaValues.ToStr(pair[1]))
                            : null;
                        return JinjaValues.ToJson(
                            value,
                            indent is null ? null : (int)AsLong(indent),
                            JinjaValues.IsTrue(Arg(3, "sort_keys", false)),
                            JinjaValues.IsTrue(Arg(0, "ensure_ascii", false)),
                            separators);
                    }

                case "length" or "count":
                    return value switch
                    {
                        string s => (long)CodePoints(s).Length,
                        JinjaList list => (long)list.Count,
                        JinjaDict dict => (long)dict.Count,
                        JinjaNamespace ns => (long)ns.Attributes.Count,
                        JinjaUndefined => 0L,
                        _ => throw new ChatTemplateException($"a {JinjaValues.TypeName(value)} has no length"),
                    };
                case "string":
                    return JinjaValues.ToStr(value);
                case "upper":
                    return Text(value, name).ToUpperInvariant();
                case "lower":
                    return Text(value, name).ToLowerInvariant();
                case "title":
                    return JinjaMethods.Title(Text(value, name));
                case "capitalize":
                    return JinjaMethods.Capitalize(Text(value, name));
                case "replace":
                    return JinjaMethods.Replace(Text(value, name), JinjaValues.ToStr(Arg(0, "old", "")), JinjaValues.ToStr(Arg(1, "new", "")), Arg(2, "count", null));
                case "safe":
                    return value is JinjaUndefined ? "" : value;
                case "e" or "escape" or "forceescape":
                    return WebUtility.HtmlEncode(JinjaValues.ToStr(value)).Replace("&#39;", "&#39;", StringComparison.Ordinal);
                case "default" or "d":
                    {
                        bool boolean = JinjaValues.IsTrue(Arg(1, "boolean", false));
                        return value is JinjaUndefined || (boolean && !JinjaValues.IsTrue(value)) ? Arg(0, "default_value", "") : value;
                    }

                case "first":
                    return Iterate(value, line).Take(1).DefaultIfEmpty(new JinjaUndefined("the first item of an empty sequence")).First();
                case "last":
                    {
                        List<object?> items = Iterate(value, line).ToList();
                        return items.Count > 0 ? items[^1] : new JinjaUndefined("the last item of an empty sequence");
                    }

                case "list":
                    return new JinjaList(Iterate(value, line));
                case "reverse":
                    return value is string text
                        ? string.Concat(CodePoints(text).Reverse().Select(char.ConvertFromUtf32))
                        : new JinjaList(Iterate(value, line).Reverse());
                case "join":
                    {
                        string separator = JinjaValues.ToStr(Arg(0, "d", ""));
                        object? attribute = Arg(1, "attribute", null);
                        IEnumerable<object?> items = Iterate(value, line);
                        if (attribute is not null)
                        {
                            items = items.Select(item => Attribute(item, attribute, line));
                        }

                        return string.Join(separator, items.Select(JinjaValues.ToStr));
                    }

                case "int":
                    return ToInt(value, Arg(0, "default", 0L));
                case "float":
                    return ToFloat(value, Arg(0, "default", 0.0));
                case "bool":
                    return JinjaValues.IsTrue(value);
                case "abs":
                    return value switch
                    {
                        long l => (object)Math.Abs(l),
                        double d => Math.Abs(d),
                        bool b => b ? 1L : 0L,
                        _ => throw new ChatTemplateException($"abs of a {JinjaValues.TypeName(value)}"),
                    };
                case "round":
                    {
                        long precision = AsLong(Arg(0, "precision", 0L));
                        string method = JinjaValues.ToStr(Arg(1, "method", "common"));
                        double x = JinjaValues.ToDouble(value);
                        double scale = Math.Pow(10, precision);
                        return method switch
                        {
                            "common" => Math.Round(x * scale, MidpointRounding.AwayFromZero) / scale,
                            "ceil" => Math.Ceiling(x * scale) / scale,
                            "floor" => Math.Floor(x * scale) / scale,
                            _ => throw new ChatTemplateException("round: method must be 'common', 'ceil' or 'floor'"),
                        };
                    }

                case "items":
                    return value switch
                    {
                        JinjaDict dict => new JinjaList(dict.Items.Select(p => (object?)new JinjaList([p.Key, p.Value], isTuple: true))),
                        JinjaUndefined => new JinjaList(),
                        _ => throw new ChatTemplateException($"items of a {JinjaValues.TypeName(value)}; it needs a mapping"),
                    };
                case "dictsort":
                    {
                        if (value is not JinjaDict dict)
                        {
                            throw new ChatTemplateException($"dictsort of a {JinjaValues.TypeName(value)}; it needs a mapping");
                        }

                        bool caseSensitive = JinjaValues.IsTrue(Arg(0, "case_sensitive", false));
                        bool byValue = JinjaValues.ToStr(Arg(1, "by", "key")) == "value";
                        bool reverse = JinjaValues.IsTrue(Arg(2, "reverse", false));
                        List<object?> pairs = dict.Items.Select(p => (object?)new JinjaList([p.Key, p.Value], isTuple: true)).ToList();
                        pairs = SortItems(pairs, item => ((JinjaList)item!)[byValue ? 1 : 0], caseSensitive, reverse);
                        return new JinjaList(pairs);
                    }

                case "sort":
                    {
                        bool reverse = JinjaValues.IsTrue(Arg(0, "reverse", false));
                        bool caseSensitive = JinjaValues.IsTrue(Arg(1, "case_sensitive", false));
                        object? attribute = Arg(2, "attribute", null);
                        List<object?> items = Iterate(value, line).ToList();
                        return new JinjaList(SortItems(items, item => attribute is null ? item : Attribute(item, attribute, line), caseSensitive, reverse));
                    }

                case "unique":
                    {
                        bool caseSensitive = JinjaValues.IsTrue(Arg(0, "case_sensitive", false));
                        object? attribute = Arg(1, "attribute", null);
                        var seen = new List<object?>();
                        var result = new JinjaList();
                        foreach (object? item in Iterate(value, line))
                        {
                            object? key = attribute is null ? item : Attribute(item, attribute, line);
                            if (!caseSensitive && key is string s)
                            {
                                key = s.ToLowerInvariant();
                            }

                            if (!seen.Any(k => JinjaValues.AreEqual(k, key)))
                            {
                                seen.Add(key);
                                result.Add(item);
                            }
                        }

                        return result;
                    }

                case "min" or "max":
                    {
                        bool caseSensitive = JinjaValues.IsTrue(Arg(0, "case_sensitive", false));
                        object? attribute = Arg(1, "attribute", null);
                        List<object?> items = SortItems(Iterate(value, line).ToList(), item => attribute is null ? item : Attribute(item, attribute, line), caseSensitive, name == "max");
                        return items.Count > 0 ? items[0] : new JinjaUndefined($"the {name} of an empty sequence");
                    }

                case "sum":
                    {
                        object? attribute = Arg(0, "attribute", null);
                        object? total = Arg(1, "start", 0L);
                        foreach (object? item in Iterate(value, line))
                        {
                            object? x = attribute is null ? item : Attribute(item, attribute, line);
                            total = Arithmetic(total, x, (a, b) => checked(a + b), (a, b) => a + b);
                        }

                        return total;
                    }

                case "map":
                    {
                        IEnumerable<object?> items = Iterate(value, line);
                        if (kwargs.TryGetValue("attribute", out object? attribute))
                        {
                            object? fallback = kwargs.TryGetValue("default", out object? d) ? d : null;
                            return new JinjaList(items.Select(item =>
                            {
                                object? v = Attribute(item, attribute, line);
                                return v is JinjaUndefined && fallback is not null ? fallback : v;
                            }));
                        }

                        if (args.Count == 0)
                        {
                            throw new ChatTemplateException("map needs a filter name or attribute=");
                        }

                        string filter = JinjaValues.ToStr(args[0]);
                        List<object?> rest = args.Skip(1).ToList();
                        return new JinjaList(items.Select(item => ApplyFilter(filter, item, rest, [], line)));
                    }

                case "select" or "reject":
                    {
                        bool keep = name == "select";
                        string? test = args.Count > 0 ? JinjaValues.ToStr(args[0]) : null;
                        List<object?> rest = args.Skip(1).ToList();
                        return new JinjaList(Iterate(value, line).Where(item =>
                            (test is null ? JinjaValues.IsTrue(item) : ApplyTest(test, item, rest, line)) == keep));
                    }

                case "selectattr" or "rejectattr":
                    {
                        bool keep = name == "selectattr";
                        if (args.Count == 0)
                        {
                            throw new ChatTemplateException($"{name} needs an attribute name");
                        }

                        object? attribute = args[0];
                        string? test = args.Count > 1 ? JinjaValues.ToStr(args[1]) : null;
                        List<object?> rest = args.Skip(2).ToList();
                        return new JinjaList(Iterate(value, line).Where(item =>
                        {
                            object? v = Attribute(item, attribute, line);
                            return (test is null ? JinjaValues.IsTrue(v) : ApplyTest(test, v, rest, line)) == keep;
                        }));
                    }

                case "indent":
                    {
                        object? width = Arg(0, "width", 4L);
                        string indentation = width is string w ? w : new string(' ', (int)AsLong(width));
                        bool first = JinjaValues.IsTrue(Arg(1, "first", false));
                        bool blank = JinjaValues.IsTrue(Arg(2, "blank", false));
                        string[] lines = Text(value, name).Split('\n');
                        var builder = new StringBuilder();
                        for (int i = 0; i < lines.Length; i++)
                        {
                            if (i > 0)
                            {
                                builder.Append('\n');
                            }

                            bool indentThis = (i > 0 || first) && (blank || lines[i].Trim().Length > 0);
                            builder.Append(indentThis ? indentation : "").Append(lines[i]);
                        }

                        return builder.ToString();
                    }

                case "center":
                    {
                        string centered = Text(value, name);
                        int width = (int)AsLong(Arg(0, "width", 80L));
                        if (centered.Length >= width)
                        {
                            return centered;
                        }

                        int total = width - centered.Length;
                        int left = (total / 2) + (total & width & 1);
                        return new string(' ', left) + centered + new string(' ', total - left);
                    }

                case "wordcount":
                    return (long)Text(value, name).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
                case "attr":
                    return Attribute(value, Arg(0, "name", ""), line);
                case "batch":
                    {
                        int size = (int)AsLong(Arg(0, "linecount", 1L));
                        if (size <= 0)
                        {
                            throw new ChatTemplateException("batch size must be positive");
                        }

                        var result = new JinjaList();
                        foreach (object?[] chunk in Iterate(value, line).Chunk(size))
                        {
                            result.Add(new JinjaList(chunk));
                        }

                        return result;
                    }

                default:
                    throw new ChatTemplateException($"unknown filter '{name}'");
            }
        }
        catch (ChatTemplateException e) when (e is not ChatTemplateRaisedException && !e.Message.StartsWith("chat template", StringComparison.Ordinal))
        {
            throw Error(line, $"filter '{name}': {e.Message}");
        }
    }

    private static string Text(object? value, string filter) => value switch
    {
        string s => s,
        JinjaUndefined => "",
        _ => JinjaValues.ToStr(value),
    };

    private object? Attribute(object? item, object? attribute, int line)
    {
        object? current = item;
        foreach (string part in JinjaValues.ToStr(attribute).Split('.'))
        {
            current = long.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out long index)
                ? GetItem(current, index, line, "the item")
                : GetItem(current, part, line, "the item");
        }

        return current;
    }

    private static List<object?> SortItems(List<object?> items, Func<object?, object?> key, bool caseSensitive, bool reverse)
    {
        object? Key(object? item)
        {
            object? k = key(item);
            return !caseSensitive && k is string s ? s.ToLowerInvariant() : k;
        }

        List<object?> sorted = reverse
            ? items.OrderByDescending(Key, Comparer<object?>.Create(JinjaValues.Compare)).ToList()
            : items.OrderBy(Key, Comparer<object?>.Create(JinjaValues.Compare)).ToList();
        return sorted;
    }

    private static object? ToInt(object? value, object? fallback)
    {
        switch (value)
        {
            case long l: return l;
            case bool b: return b ? 1L : 0L;
            case double d: return double.IsFinite(d) ? (long)Math.Truncate(d) : fallback;
            case string s:
                string t = s.Trim().Replace("_", "", StringComparison.Ordinal);
                if (long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long parsed))
                {
                    return parsed;
                }

                return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double real) && double.IsFinite(real)
                    ? (long)Math.Truncate(real)
                    : fallback;
            default: return fallback;
        }
    }

    private static object? ToFloat(object? value, object? fallback) => value switch
    {
        long l => (double)l,
        double d => d,
        bool b => b ? 1.0 : 0.0,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed) => parsed,
        _ => fallback,
    };

    private bool ApplyTest(string name, object? value, List<object?> args, int line)
    {
        object? Arg0() => args.Count > 0 ? args[0] : throw Error(line, $"test '{name}' needs an argument");
        return name switch
        {
            "defined" => value is not JinjaUndefined,
            "undefined" => value is JinjaUndefined,
            "none" => value is null,
            "boolean" => value is bool,
            "true" => value is true,
            "false" => value is false,
            "integer" => value is long,
            "float" => value is double,
            "number" => value is long or double,
            "string" => value is string,
            "mapping" => value is JinjaDict,
            "iterable" => value is string or JinjaList or JinjaDict,
            "sequence" => value is string or JinjaList or JinjaDict,
            "callable" => value is JinjaCallable,
            "odd" => AsLong(value) % 2 != 0,
            "even" => AsLong(value) % 2 == 0,
            "divisibleby" => AsLong(Arg0()) != 0 && AsLong(value) % AsLong(Arg0()) == 0,
            "eq" or "equalto" or "==" => JinjaValues.AreEqual(value, Arg0()),
            "ne" or "!=" => !JinjaValues.AreEqual(value, Arg0()),
            "lt" or "lessthan" or "<" => CompareChecked(value, Arg0(), line) < 0,
            "le" or "<=" => CompareChecked(value, Arg0(), line) <= 0,
            "gt" or "greaterthan" or ">" => CompareChecked(value, Arg0(), line) > 0,
            "ge" or ">=" => CompareChecked(value, Arg0(), line) >= 0,
            "in" => Contains(Arg0(), value, line),
            "sameas" => ReferenceEquals(value, Arg0()) || (value is null && Arg0() is null) || (value is bool a && Arg0() is bool b && a == b),
            "lower" => value is string s && s == s.ToLowerInvariant(),
            "upper" => value is string s2 && s2 == s2.ToUpperInvariant(),
            "escaped" => false,
            _ => throw Error(line, $"unknown test '{name}'"),
        };
    }
}

/// <summary>Methods of strings, dictionaries and lists callable from templates (read-only: the environment is
/// immutable, as in transformers).</summary>
internal static class JinjaMethods
{
    private static JinjaCallable Method(string name, Func<IReadOnlyList<object?>, IReadOnlyDictionary<string, object?>, object?> body) => new(name, body);

    private static object? Arg(IReadOnlyList<object?> args, IReadOnlyDictionary<string, object?> kwargs, int index, string keyword, object? fallback) =>
        kwargs.TryGetValue(keyword, out object? k) ? k : index < args.Count ? args[index] : fallback;

    public static JinjaCallable? StringMethod(string s, string name) => name switch
    {
        "strip" => Method(name, (a, k) => Strip(s, Arg(a, k, 0, "chars", null) as string, true, true)),
        "lstrip" => Method(name, (a, k) => Strip(s, Arg(a, k, 0, "chars", null) as string, true, false)),
        "rstrip" => Method(name, (a, k) => Strip(s, Arg(a, k, 0, "chars", null) as string, false, true)),
        "upper" => Method(name, (_, _) => s.ToUpperInvariant()),
        "lower" => Method(name, (_, _) => s.ToLowerInvariant()),
        "title" => Method(name, (_, _) => Title(s)),
        "capitalize" => Method(name, (_, _) => Capitalize(s)),
        "startswith" => Method(name, (a, k) => Affix(s, Arg(a, k, 0, "prefix", ""), start: true)),
        "endswith" => Method(name, (a, k) => Affix(s, Arg(a, k, 0, "suffix", ""), start: false)),
        "split" => Method(name, (a, k) => Split(s, Arg(a, k, 0, "sep", null) as string, Arg(a, k, 1, "maxsplit", -1L))),
        "rsplit" => Method(name, (a, k) => RSplit(s, Arg(a, k, 0, "sep", null) as string, Arg(a, k, 1, "maxsplit", -1L))),
        "splitlines" => Method(name, (_, _) => s.Length == 0 ? new JinjaList() : new JinjaList(s.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n', '\r').Select(x => (object?)x).SkipLast(s.EndsWith('\n') || s.EndsWith('\r') ? 1 : 0))),
        "replace" => Method(name, (a, k) => Replace(s, JinjaValues.ToStr(Arg(a, k, 0, "old", "")), JinjaValues.ToStr(Arg(a, k, 1, "new", "")), Arg(a, k, 2, "count", null))),
        "find" => Method(name, (a, k) => (long)s.IndexOf(JinjaValues.ToStr(Arg(a, k, 0, "sub", "")), StringComparison.Ordinal)),
        "rfind" => Method(name, (a, k) => (long)s.LastIndexOf(JinjaValues.ToStr(Arg(a, k, 0, "sub", "")), StringComparison.Ordinal)),
        "count" => Method(name, (a, k) => (long)CountOccurrences(s, JinjaValues.ToStr(Arg(a, k, 0, "sub", "")))),
        "join" => Method(name, (a, k) => string.Join(s, JinjaInterpreter.Iterate(Arg(a, k, 0, "iterable", new JinjaList()), 0).Select(JinjaValues.ToStr))),
        "isdigit" => Method(name, (_, _) => s.Length > 0 && s.All(char.IsDigit)),
        "isalpha" => Method(name, (_, _) => s.Length > 0 && s.All(char.IsLetter)),
        "isalnum" => Method(name, (_, _) => s.Length > 0 && s.All(char.IsLetterOrDigit)),
        "isspace" => Method(name, (_, _) => s.Length > 0 && s.All(char.IsWhiteSpace)),
        "islower" => Method(name, (_, _) => s.Any(char.IsLetter) && s == s.ToLowerInvariant()),
        "isupper" => Method(name, (_, _) => s.Any(char.IsLetter) && s == s.ToUpperInvariant()),
        _ => null,
    };

    public static JinjaCallable? DictMethod(JinjaDict dict, string name) => name switch
    {
        "items" => Method(name, (_, _) => new JinjaList(dict.Items.Select(p => (object?)new JinjaList([p.Key, p.Value], isTuple: true)))),
        "keys" => Method(name, (_, _) => new JinjaList(dict.Keys.Select(key => (object?)key))),
        "values" => Method(name, (_, _) => new JinjaList(dict.Items.Select(p => p.Value))),
        "get" => Method(name, (a, k) =>
        {
            object? key = Arg(a, k, 0, "key", null);
            return key is not null && dict.TryGet(key, out object? value) ? value : Arg(a, k, 1, "default", null);
        }),
        _ => null,
    };

    public static JinjaCallable? ListMethod(JinjaList list, string name) => name switch
    {
        "count" => Method(name, (a, _) => (long)list.Count(x => JinjaValues.AreEqual(x, a.Count > 0 ? a[0] : null))),
        "index" => Method(name, (a, _) =>
        {
            int index = list.FindIndex(x => JinjaValues.AreEqual(x, a.Count > 0 ? a[0] : null));
            return index >= 0 ? (long)index : throw new ChatTemplateException("list.index(x): x not in list");
        }),
        "append" or "pop" or "extend" or "insert" or "remove" or "clear" or "sort" or "reverse" =>
            throw new ChatTemplateException($"list.{name}() would modify a list; chat templates run in an immutable environment (use a filter or '+' instead)"),
        _ => null,
    };

    public static string Strip(string s, string? chars, bool left, bool right)
    {
        Func<char, bool> strip = chars is null ? char.IsWhiteSpace : c => chars.Contains(c, StringComparison.Ordinal);
        int start = 0, end = s.Length;
        while (left && start < end && strip(s[start]))
        {
            start++;
        }

        while (right && end > start && strip(s[end - 1]))
        {
            end--;
        }

        return s[start..end];
    }

    public static string Title(string s)
    {
        var builder = new StringBuilder(s.Length);
        bool previousCased = false;
        foreach (char c in s)
        {
            builder.Append(previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousCased = char.IsLetter(c);
        }

        return builder.ToString();
    }

    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    public static string Replace(string s, string oldValue, string newValue, object? count)
    {
        long limit = count is long l ? l : -1;
        if (limit < 0)
        {
            return oldValue.Length == 0 ? InsertEverywhere(s, newValue) : s.Replace(oldValue, newValue, StringComparison.Ordinal);
        }

        var builder = new StringBuilder();
        int position = 0;
        for (long done = 0; done < limit; done++)
        {
            int found = oldValue.Length == 0 ? (position <= s.Length ? position : -1) : s.IndexOf(oldValue, position, StringComparison.Ordinal);
            if (found < 0)
            {
                break;
            }

            builder.Append(s, position, found - position).Append(newValue);
            position = found + oldValue.Length;
            if (oldValue.Length == 0)
            {
                if (position < s.Length)
                {
                    builder.Append(s[position]);
                }

                position++;
            }
        }

        if (position < s.Length)
        {
            builder.Append(s, position, s.Length - position);
        }

        return builder.ToString();
    }

    private static string InsertEverywhere(string s, string value)
    {
        var builder = new StringBuilder(value);
        foreach (char c in s)
        {
            builder.Append(c).Append(value);
        }

        return builder.ToString();
    }

    private static bool Affix(string s, object? affix, bool start)
    {
        IEnumerable<object?> candidates = affix is JinjaList list ? list : [affix];
        return candidates.Any(c => c is string text && (start ? s.StartsWith(text, StringComparison.Ordinal) : s.EndsWith(text, StringComparison.Ordinal)));
    }

    private static JinjaList Split(string s, string? separator, object? maxSplit)
    {
        long max = maxSplit is long m ? m : -1;
        if (separator is null)
        {
            var parts = new JinjaList();
            int i = 0;
            while (i < s.Length)
            {
                while (i < s.Length && char.IsWhiteSpace(s[i]))
                {
                    i++;
                }

                if (i >= s.Length)
                {
                    break;
                }

                if (max >= 0 && parts.Count == max)
                {
                    parts.Add(s[i..].TrimEnd());
                    break;
                }

                int start = i;
                while (i < s.Length && !char.IsWhiteSpace(s[i]))
                {
                    i++;
                }

                parts.Add(s[start..i]);
            }

            return parts;
        }

        if (separator.Length == 0)
        {
            throw new ChatTemplateException("split(): empty separator");
        }

        string[] pieces = max < 0
            ? s.Split(separator, StringSplitOptions.None)
            : s.Split(separator, (int)Math.Min(int.MaxValue, max + 1), StringSplitOptions.None);
        return new JinjaList(pieces.Select(p => (object?)p));
    }

    private static JinjaList RSplit(string s, string? separator, object? maxSplit)
    {
        long max = maxSplit is long m ? m : -1;
        if (max < 0 || separator is null)
        {
            return Split(s, separator, maxSplit);
        }

        var parts = new List<object?>();
        int end = s.Length;
        while (parts.Count < max)
        {
            int found = s.LastIndexOf(separator, end - 1 < 0 ? 0 : end - 1, StringComparison.Ordinal);
            if (found < 0 || end == 0 || found + separator.Length > end)
            {
                break;
            }

            parts.Insert(0, s[(found + separator.Length)..end]);
            end = found;
        }

        parts.Insert(0, s[..end]);
        return new JinjaList(parts);
    }

    private static int CountOccurrences(string s, string sub)
    {
        if (sub.Length == 0)
        {
            return s.Length + 1;
        }

        int count = 0;
        for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
