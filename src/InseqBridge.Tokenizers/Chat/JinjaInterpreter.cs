using System.Globalization;
using System.Text;

namespace InseqBridge.Tokenizers.Chat;

/// <summary>
/// Renders a parsed template. Semantics follow Python Jinja2 in the sandboxed, immutable environment transformers
/// renders chat templates with: loop bodies have their own scope (a <c>set</c> inside a loop does not leak; use
/// <c>namespace()</c>), missing keys and indexes are undefined, lists and dictionaries cannot be modified. Work is
/// bounded (output length, loop iterations, call depth) so a hostile template cannot hang or exhaust a host.
/// </summary>
internal sealed partial class JinjaInterpreter
{
    /// <summary>Most characters a rendering may produce.</summary>
    public const int MaxOutputLength = 16 << 20;

    /// <summary>Most loop iterations and macro calls a rendering may run, all together.</summary>
    public const long MaxSteps = 10_000_000;

    private enum Flow
    {
        Normal,
        Break,
        Continue,
    }

    private readonly List<Dictionary<string, object?>> _scopes = [];
    private long _steps;
    private int _callDepth;

    public JinjaInterpreter(IReadOnlyDictionary<string, object?> globals)
    {
        var root = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach ((string name, object? value) in BuiltinGlobals())
        {
            root[name] = value;
        }

        foreach ((string name, object? value) in globals)
        {
            root[name] = value;
        }

        _scopes.Add(root);
    }

    public string Render(IReadOnlyList<JinjaNode> nodes)
    {
        var output = new StringBuilder();
        Execute(nodes, output);
        return output.ToString();
    }

    // Statements ---------------------------------------------------------------------------------------------------

    private Flow Execute(IReadOnlyList<JinjaNode> nodes, StringBuilder output)
    {
        foreach (JinjaNode node in nodes)
        {
            Flow flow = Execute(node, output);
            if (flow != Flow.Normal)
            {
                return flow;
            }

            if (output.Length > MaxOutputLength)
            {
                throw Error(node.Line, $"the rendered text exceeds {MaxOutputLength} characters");
            }
        }

        return Flow.Normal;
    }

    private Flow Execute(JinjaNode node, StringBuilder output)
    {
        switch (node)
        {
            case TextNode text:
                output.Append(text.Text);
                return Flow.Normal;
            case OutputNode value:
                output.Append(JinjaValues.ToStr(Evaluate(value.Value)));
                return Flow.Normal;
            case IfNode conditional:
                foreach ((JinjaExpr condition, IReadOnlyList<JinjaNode> body) in conditional.Branches)
                {
                    if (JinjaValues.IsTrue(Evaluate(condition)))
                    {
                        return Execute(body, output);
                    }
                }

                return Execute(conditional.Else, output);
            case ForNode loop:
                ExecuteFor(loop, output);
                return Flow.Normal;
            case SetNode set:
                ExecuteSet(set);
                return Flow.Normal;
            case MacroNode macro:
                _scopes[^1][macro.Name] = MakeMacro(macro.Name, macro.Parameters, macro.Body, caller: null);
                return Flow.Normal;
            case CallBlockNode call:
                {
                    JinjaCallable caller = MakeMacro("caller", call.Parameters, call.Body, caller: null);
                    var callExpr = (CallExpr)call.Call;
                    object? target = Evaluate(callExpr.Target);
                    var arguments = callExpr.Arguments.Select(Evaluate).ToList();
                    var keywords = callExpr.Keywords.ToDictionary(k => k.Name, k => Evaluate(k.Value), StringComparer.Ordinal);
                    keywords["caller"] = caller;
                    output.Append(JinjaValues.ToStr(Invoke(target, arguments, keywords, call.Line)));
                    return Flow.Normal;
                }

            case FilterBlockNode filter:
                {
                    var inner = new StringBuilder();
                    Execute(filter.Body, inner);
                    object? result = ApplyFilter(
                        filter.Filter,
                        inner.ToString(),
                        filter.Arguments.Select(Evaluate).ToList(),
                        filter.Keywords.ToDictionary(k => k.Name, k => Evaluate(k.Value), StringComparer.Ordinal),
                        filter.Line);
                    output.Append(JinjaValues.ToStr(result));
                    return Flow.Normal;
                }

            case BreakNode:
                return Flow.Break;
            case ContinueNode:
                return Flow.Continue;
            default:
                throw Error(node.Line, "unknown statement");
        }
    }

    private void ExecuteFor(ForNode loop, StringBuilder output)
    {
        List<object?> items = Iterate(Evaluate(loop.Iterable), loop.Line).ToList();
        if (loop.Filter is not null)
        {
            var kept = new List<object?>();
            foreach (object? item in items)
            {
                _scopes.Add(new Dictionary<string, object?>(StringComparer.Ordinal));
                Bind(loop.Targets, item, loop.Line);
                bool keep = JinjaValues.IsTrue(Evaluate(loop.Filter));
                _scopes.RemoveAt(_scopes.Count - 1);
                if (keep)
                {
                    kept.Add(item);
                }
            }

            items = kept;
        }

        if (items.Count == 0)
        {
            Execute(loop.Else, output);
            return;
        }

        for (int i = 0; i < items.Count; i++)
        {
            CountStep(loop.Line);
            var scope = new Dictionary<string, object?>(StringComparer.Ordinal);
            _scopes.Add(scope);
            try
            {
                scope["loop"] = MakeLoop(items, i);
                Bind(loop.Targets, items[i], loop.Line);
                if (Execute(loop.Body, output) == Flow.Break)
                {
                    break;
                }
            }
            finally
            {
                _scopes.RemoveAt(_scopes.Count - 1);
            }
        }
    }

    private static JinjaDict MakeLoop(List<object?> items, int index)
    {
        var loop = new JinjaDict();
        loop.Set("index0", (long)index);
        loop.Set("index", (long)index + 1);
        loop.Set("revindex0", (long)(items.Count - index - 1));
        loop.Set("revindex", (long)(items.Count - index));
        loop.Set("first", index == 0);
        loop.Set("last", index == items.Count - 1);
        loop.Set("length", (long)items.Count);
        loop.Set("previtem", index > 0 ? items[index - 1] : new JinjaUndefined("loop.previtem"));
        loop.Set("nextitem", index < items.Count - 1 ? items[index + 1] : new JinjaUndefined("loop.nextitem"));
        // depth counts recursive calls of a loop (loop(...)), which templates do not use: a plain nested loop has its own
        // loop variable at depth 1.
        loop.Set("depth", 1L);
        loop.Set("depth0", 0L);
        loop.Set("cycle", new JinjaCallable("loop.cycle", (args, _) =>
            args.Count == 0 ? throw new ChatTemplateException("loop.cycle() needs at least one value") : args[index % args.Count]));
        return loop;
    }

    private void Bind(IReadOnlyList<string> targets, object? value, int line)
    {
        if (targets.Count == 1)
        {
            _scopes[^1][targets[0]] = value;
            return;
        }

        List<object?> parts = Iterate(value, line).ToList();
        if (parts.Count != targets.Count)
        {
            throw Error(line, $"cannot unpack {parts.Count} values into {targets.Count} names");
        }

        for (int i = 0; i < targets.Count; i++)
        {
            _scopes[^1][targets[i]] = parts[i];
        }
    }

    private void ExecuteSet(SetNode set)
    {
        object? value;
        if (set.Body is not null)
        {
            var inner = new StringBuilder();
            Execute(set.Body, inner);
            value = inner.ToString();
        }
        else
        {
            value = Evaluate(set.Value!);
        }

        if (set.Attribute is not null)
        {
            object? target = Lookup(set.Targets[0]);
            if (target is not JinjaNamespace ns)
            {
                throw Error(set.Line, $"'{set.Targets[0]}' is not a namespace; only namespace() objects take 'set {set.Targets[0]}.{set.Attribute} = ...'");
            }

            ns.Attributes.Set(set.Attribute, value);
            return;
        }

        Bind(set.Targets, value, set.Line);
    }

    private JinjaCallable MakeMacro(string name, IReadOnlyList<(string Name, JinjaExpr? Default)> parameters, IReadOnlyList<JinjaNode> body, JinjaCallable? caller)
    {
        List<Dictionary<string, object?>> closure = [.. _scopes];
        return new JinjaCallable(name, (args, keywords) =>
        {
            if (++_callDepth > 100)
            {
                throw new ChatTemplateException($"macro '{name}' recurses more than 100 levels deep");
            }

            CountStep(0);
            List<Dictionary<string, object?>> saved = [.. _scopes];
            _scopes.Clear();
            _scopes.AddRange(closure);
            var scope = new Dictionary<string, object?>(StringComparer.Ordinal);
            _scopes.Add(scope);
            try
            {
                var varargs = new JinjaList();
                for (int i = 0; i < args.Count; i++)
                {
                    if (i < parameters.Count)
                    {
                        scope[parameters[i].Name] = args[i];
                    }
                    else
                    {
                        varargs.Add(args[i]);
                    }
                }

                var kwargs = new JinjaDict();
                foreach ((string key, object? value) in keywords)
                {
                    if (parameters.Any(p => p.Name == key) || key == "caller")
                    {
                        scope[key] = value;
                    }
                    else
                    {
                        kwargs.Set(key, value);
                    }
                }

                for (int i = 0; i < parameters.Count; i++)
                {
                    if (!scope.ContainsKey(parameters[i].Name))
                    {
                        scope[parameters[i].Name] = parameters[i].Default is { } d ? Evaluate(d) : new JinjaUndefined($"parameter '{parameters[i].Name}'");
                    }
                }

                scope["varargs"] = varargs;
                scope["kwargs"] = kwargs;
                if (caller is not null && !scope.ContainsKey("caller"))
                {
                    scope["caller"] = caller;
                }

                var output = new StringBuilder();
                Execute(body, output);
                return output.ToString();
            }
            finally
            {
                _scopes.Clear();
                _scopes.AddRange(saved);
                _callDepth--;
            }
        });
    }

    private void CountStep(int line)
    {
        if (++_steps > MaxSteps)
        {
            throw Error(line, $"the template ran more than {MaxSteps} loop iterations and calls");
        }
    }

    private object? Lookup(string name)
    {
        for (int i = _scopes.Count - 1; i >= 0; i--)
        {
            if (_scopes[i].TryGetValue(name, out object? value))
            {
                return value;
            }
        }

        return new JinjaUndefined($"'{name}'");
    }

    private static ChatTemplateException Error(int line, string problem) =>
        new(line > 0 ? $"chat template error on line {line}: {problem}." : $"chat template error: {problem}.");

    // Expressions --------------------------------------------------------------------------------------------------

    private object? Evaluate(JinjaExpr expr)
    {
        switch (expr)
        {
            case LiteralExpr literal:
                return literal.Value;
            case NameExpr name:
                return Lookup(name.Name);
            case ListExpr list:
                return new JinjaList(list.Items.Select(Evaluate), list.IsTuple);
            case DictExpr dict:
                {
                    var result = new JinjaDict();
                    foreach ((JinjaExpr key, JinjaExpr value) in dict.Items)
                    {
                        object? k = Evaluate(key);
                        if (k is null or JinjaList or JinjaDict or JinjaUndefined)
                        {
                            throw Error(dict.Line, $"a dictionary key cannot be a {JinjaValues.TypeName(k)}");
                        }

                        result.Set(k, Evaluate(value));
                    }

                    return result;
                }

            case AttributeExpr attribute:
                return GetAttribute(Evaluate(attribute.Target), attribute.Name, attribute.Line, Describe(attribute.Target));
            case IndexExpr index:
                return GetItem(Evaluate(index.Target), Evaluate(index.Index), index.Line, Describe(index.Target));
            case SliceExpr slice:
                return Slice(Evaluate(slice.Target), Optional(slice.Start), Optional(slice.Stop), Optional(slice.Step), slice.Line);
            case CallExpr call:
                {
                    object? target = Evaluate(call.Target);
                    var arguments = call.Arguments.Select(Evaluate).ToList();
                    var keywords = call.Keywords.ToDictionary(k => k.Name, k => Evaluate(k.Value), StringComparer.Ordinal);
                    return Invoke(target, arguments, keywords, call.Line);
                }

            case FilterExpr filter:
                return ApplyFilter(
                    filter.Name,
                    Evaluate(filter.Target),
                    filter.Arguments.Select(Evaluate).ToList(),
                    filter.Keywords.ToDictionary(k => k.Name, k => Evaluate(k.Value), StringComparer.Ordinal),
                    filter.Line);
            case TestExpr test:
                {
                    bool result = ApplyTest(test.Name, Evaluate(test.Target), test.Arguments.Select(Evaluate).ToList(), test.Line);
                    return test.Negated ? !result : result;
                }

            case UnaryExpr unary:
                {
                    object? operand = Evaluate(unary.Operand);
                    return unary.Operator switch
                    {
                        "not" => !JinjaValues.IsTrue(operand),
                        "-" => operand switch
                        {
                            long l => (object)(-l),
                            double d => -d,
                            bool b => b ? -1L : 0L,
                            _ => throw Error(unary.Line, $"cannot negate a {JinjaValues.TypeName(operand)}"),
                        },
                        _ => JinjaValues.IsNumber(operand) ? operand : throw Error(unary.Line, $"unary '+' on a {JinjaValues.TypeName(operand)}"),
                    };
                }

            case BinaryExpr binary:
                return EvaluateBinary(binary);
            case CompareExpr compare:
                {
                    object? left = Evaluate(compare.First);
                    foreach ((string op, JinjaExpr operand) in compare.Rest)
                    {
                        object? right = Evaluate(operand);
                        if (!CompareOp(op, left, right, compare.Line))
                        {
                            return false;
                        }

                        left = right;
                    }

                    return true;
                }

            case ConditionalExpr conditional:
                return JinjaValues.IsTrue(Evaluate(conditional.Condition))
                    ? Evaluate(conditional.Then)
                    : conditional.Else is null ? new JinjaUndefined("the missing else branch") : Evaluate(conditional.Else);
            default:
                throw Error(expr.Line, "unknown expression");
        }
    }

    private object? Optional(JinjaExpr? expr) => expr is null ? null : Evaluate(expr);

    private static string Describe(JinjaExpr expr) => expr switch
    {
        NameExpr n => $"'{n.Name}'",
        AttributeExpr a => $"{Describe(a.Target).Trim('\'')}.{a.Name}".Insert(0, "'") + "'",
        _ => "the value",
    };

    private object? EvaluateBinary(BinaryExpr binary)
    {
        if (binary.Operator == "and")
        {
            object? left = Evaluate(binary.Left);
            return JinjaValues.IsTrue(left) ? Evaluate(binary.Right) : left;
        }

        if (binary.Operator == "or")
        {
            object? left = Evaluate(binary.Left);
            return JinjaValues.IsTrue(left) ? left : Evaluate(binary.Right);
        }

        object? a = Evaluate(binary.Left);
        object? b = Evaluate(binary.Right);
        int line = binary.Line;
        switch (binary.Operator)
        {
            case "~":
                return JinjaValues.ToStr(a) + JinjaValues.ToStr(b);
            case "+":
                return (a, b) switch
                {
                    (string x, string y) => x + y,
                    (JinjaList x, JinjaList y) => new JinjaList(x.Concat(y), x.IsTuple),
                    _ when IsNumeric(a) && IsNumeric(b) => Arithmetic(a, b, (x, y) => checked(x + y), (x, y) => x + y),
                    _ => throw OperandError(line, "+", a, b),
                };
            case "-":
                return IsNumeric(a) && IsNumeric(b) ? Arithmetic(a, b, (x, y) => checked(x - y), (x, y) => x - y) : throw OperandError(line, "-", a, b);
            case "*":
                if (a is string s && b is long n)
                {
                    return Repeat(s, n, line);
                }

                if (a is long n2 && b is string s2)
                {
                    return Repeat(s2, n2, line);
                }

                if (a is JinjaList list && b is long count)
                {
                    CheckSize((long)list.Count * Math.Max(0, count), line);
                    var result = new JinjaList();
                    for (long i = 0; i < count; i++)
                    {
                        result.AddRange(list);
                    }

                    return result;
                }

                return IsNumeric(a) && IsNumeric(b) ? Arithmetic(a, b, (x, y) => checked(x * y), (x, y) => x * y) : throw OperandError(line, "*", a, b);
            case "/":
                {
                    if (!IsNumeric(a) || !IsNumeric(b))
                    {
                        throw OperandError(line, "/", a, b);
                    }

                    double divisor = JinjaValues.ToDouble(b);
                    return divisor == 0 ? throw Error(line, "division by zero") : JinjaValues.ToDouble(a) / divisor;
                }

            case "//":
                {
                    if (!IsNumeric(a) || !IsNumeric(b))
                    {
                        throw OperandError(line, "//", a, b);
                    }

                    if (JinjaValues.ToDouble(b) == 0)
                    {
                        throw Error(line, "division by zero");
                    }

                    if (a is double || b is double)
                    {
                        return Math.Floor(JinjaValues.ToDouble(a) / JinjaValues.ToDouble(b));
                    }

                    long x = AsLong(a), y = AsLong(b);
                    long q = x / y;
                    return (x % y != 0) && ((x < 0) != (y < 0)) ? q - 1 : q;
                }

            case "%":
                {
                    if (a is string format)
                    {
                        return PercentFormat(format, b, line);
                    }

                    if (!IsNumeric(a) || !IsNumeric(b))
                    {
                        throw OperandError(line, "%", a, b);
                    }

                    if (JinjaValues.ToDouble(b) == 0)
                    {
                        throw Error(line, "modulo by zero");
                    }

                    if (a is double || b is double)
                    {
                        double x = JinjaValues.ToDouble(a), y = JinjaValues.ToDouble(b);
                        double r = x % y;
                        return r != 0 && (r < 0) != (y < 0) ? r + y : r;
                    }

                    long lx = AsLong(a), ly = AsLong(b);
                    long m = lx % ly;
                    return m != 0 && (m < 0) != (ly < 0) ? m + ly : m;
                }

            case "**":
                if (!IsNumeric(a) || !IsNumeric(b))
                {
                    throw OperandError(line, "**", a, b);
                }

                if (a is not double && b is not double && AsLong(b) >= 0)
                {
                    return (long)Math.Pow(AsLong(a), AsLong(b));
                }

                return Math.Pow(JinjaValues.ToDouble(a), JinjaValues.ToDouble(b));
            default:
                throw Error(line, $"unknown operator '{binary.Operator}'");
        }
    }

    private static bool IsNumeric(object? value) => value is long or double or bool;

    private static long AsLong(object? value) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => (long)JinjaValues.ToDouble(value),
    };

    private static object Arithmetic(object? a, object? b, Func<long, long, long> integer, Func<double, double, double> real)
    {
        if (a is double || b is double)
        {
            return real(JinjaValues.ToDouble(a), JinjaValues.ToDouble(b));
        }

        try
        {
            return integer(AsLong(a), AsLong(b));
        }
        catch (OverflowException)
        {
            return real(JinjaValues.ToDouble(a), JinjaValues.ToDouble(b));
        }
    }

    private static string Repeat(string s, long count, int line)
    {
        if (count <= 0)
        {
            return "";
        }

        CheckSize(s.Length * count, line);
        return new StringBuilder(s.Length * (int)count).Insert(0, s, (int)count).ToString();
    }

    private static void CheckSize(long size, int line)
    {
        if (size > MaxOutputLength)
        {
            throw Error(line, $"a value would exceed {MaxOutputLength} elements");
        }
    }

    private static ChatTemplateException OperandError(int line, string op, object? a, object? b) =>
        Error(line, $"unsupported operands for '{op}': {JinjaValues.TypeName(a)} and {JinjaValues.TypeName(b)}");

    private static string PercentFormat(string format, object? arguments, int line)
    {
        List<object?> values = arguments is JinjaList { IsTuple: true } tuple ? [.. tuple] : [arguments];
        var builder = new StringBuilder();
        int next = 0;
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                builder.Append(format[i]);
                continue;
            }

            char spec = format[++i];
            if (spec == '%')
            {
                builder.Append('%');
                continue;
            }

            if (next >= values.Count)
            {
                throw Error(line, "not enough arguments for the format string");
            }

            object? value = values[next++];
            builder.Append(spec switch
            {
                's' => JinjaValues.ToStr(value),
                'r' => JinjaValues.Repr(value),
                'd' or 'i' => AsLong(value).ToString(CultureInfo.InvariantCulture),
                'f' => JinjaValues.ToDouble(value).ToString("F6", CultureInfo.InvariantCulture),
                _ => throw Error(line, $"unsupported format '%{spec}'"),
            });
        }

        return builder.ToString();
    }

    private static bool CompareOp(string op, object? left, object? right, int line) => op switch
    {
        "==" => JinjaValues.AreEqual(left, right),
        "!=" => !JinjaValues.AreEqual(left, right),
        "<" => CompareChecked(left, right, line) < 0,
        ">" => CompareChecked(left, right, line) > 0,
        "<=" => CompareChecked(left, right, line) <= 0,
        ">=" => CompareChecked(left, right, line) >= 0,
        "in" => Contains(right, left, line),
        "not in" => !Contains(right, left, line),
        _ => throw Error(line, $"unknown comparison '{op}'"),
    };

    private static int CompareChecked(object? left, object? right, int line)
    {
        try
        {
            return JinjaValues.Compare(left, right);
        }
        catch (ChatTemplateException e)
        {
            throw Error(line, e.Message);
        }
    }

    private static bool Contains(object? container, object? item, int line) => container switch
    {
        string s when item is string sub => s.Contains(sub, StringComparison.Ordinal),
        string => throw Error(line, $"'in <string>' needs a string on the left, not a {JinjaValues.TypeName(item)}"),
        JinjaList list => list.Any(x => JinjaValues.AreEqual(x, item)),
        JinjaDict dict => item is not null && dict.ContainsKey(item),
        JinjaUndefined => false,
        _ => throw Error(line, $"a {JinjaValues.TypeName(container)} cannot contain anything"),
    };

    // Attribute and item access --------------------------------------------------------------------------------------

    private static object? GetAttribute(object? target, string name, int line, string description)
    {
        switch (target)
        {
            case JinjaUndefined u:
                throw Error(line, $"{u.Description} is undefined, so it has no attribute '{name}'");
            case JinjaNamespace ns:
                return ns.Attributes.TryGet(name, out object? nsValue) ? nsValue : new JinjaUndefined($"{description}.{name}");
            case JinjaDict dict:
                if (JinjaMethods.DictMethod(dict, name) is { } dictMethod)
                {
                    return dictMethod;
                }

                return dict.TryGet(name, out object? value) ? value : new JinjaUndefined($"{description}.{name}");
            case string s:
                return (object?)JinjaMethods.StringMethod(s, name) ?? new JinjaUndefined($"{description}.{name}");
            case JinjaList list:
                return (object?)JinjaMethods.ListMethod(list, name) ?? new JinjaUndefined($"{description}.{name}");
            default:
                return new JinjaUndefined($"{description}.{name}");
        }
    }

    private static object? GetItem(object? target, object? key, int line, string description)
    {
        switch (target)
        {
            case JinjaUndefined u:
                throw Error(line, $"{u.Description} is undefined, so it cannot be indexed");
            case JinjaDict dict:
                if (key is not null && key is not JinjaUndefined && dict.TryGet(key, out object? value))
                {
                    return value;
                }

                return key is string keyName ? GetAttribute(target, keyName, line, description) : new JinjaUndefined($"{description}[{JinjaValues.Repr(key)}]");
            case JinjaNamespace when key is string attributeName:
                return GetAttribute(target, attributeName, line, description);
            case JinjaList list when key is long or bool:
                {
                    long index = AsLong(key);
                    if (index < 0)
                    {
                        index += list.Count;
                    }

                    return index >= 0 && index < list.Count ? list[(int)index] : new JinjaUndefined($"{description}[{key}]");
                }

            case string s when key is long or bool:
                {
                    int[] codePoints = CodePoints(s);
                    long index = AsLong(key);
                    if (index < 0)
                    {
                        index += codePoints.Length;
                    }

                    return index >= 0 && index < codePoints.Length ? char.ConvertFromUtf32(codePoints[index]) : new JinjaUndefined($"{description}[{key}]");
                }

            case string s when key is string methodName:
                return (object?)JinjaMethods.StringMethod(s, methodName) ?? new JinjaUndefined($"{description}[{JinjaValues.Repr(key)}]");
            case JinjaList list when key is string listMethod:
                return (object?)JinjaMethods.ListMethod(list, listMethod) ?? new JinjaUndefined($"{description}[{JinjaValues.Repr(key)}]");
            default:
                return new JinjaUndefined($"{description}[{JinjaValues.Repr(key)}]");
        }
    }

    internal static int[] CodePoints(string s)
    {
        var result = new List<int>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                result.Add(char.ConvertToUtf32(s[i], s[i + 1]));
                i++;
            }
            else
            {
                result.Add(s[i]);
            }
        }

        return [.. result];
    }

    private static object? Slice(object? target, object? start, object? stop, object? step, int line)
    {
        long stepValue = step is null ? 1 : AsLong(step);
        if (stepValue == 0)
        {
            throw Error(line, "slice step cannot be zero");
        }

        List<object?> items;
        bool isString = false;
        switch (target)
        {
            case JinjaList list:
                items = [.. list];
                break;
            case string s:
                items = CodePoints(s).Select(c => (object?)char.ConvertFromUtf32(c)).ToList();
                isString = true;
                break;
            case JinjaUndefined u:
                throw Error(line, $"{u.Description} is undefined, so it cannot be sliced");
            default:
                throw Error(line, $"a {JinjaValues.TypeName(target)} cannot be sliced");
        }

        int length = items.Count;
        long Normalize(object? bound, long defaultValue, bool isStop)
        {
            if (bound is null)
            {
                return defaultValue;
            }

            long v = AsLong(bound);
            if (v < 0)
            {
                v += length;
            }

            return stepValue > 0 ? Math.Clamp(v, 0, length) : Math.Clamp(v, -1, length - 1);
        }

        long from = Normalize(start, stepValue > 0 ? 0 : length - 1, false);
        long to = Normalize(stop, stepValue > 0 ? length : -1, true);
        var result = new List<object?>();
        for (long i = from; stepValue > 0 ? i < to : i > to; i += stepValue)
        {
            result.Add(items[(int)i]);
        }

        return isString ? string.Concat(result.Cast<string>()) : new JinjaList(result, ((JinjaList)target).IsTuple);
    }

    private object? Invoke(object? target, List<object?> arguments, Dictionary<string, object?> keywords, int line)
    {
        if (target is JinjaCallable callable)
        {
            try
            {
                return callable.Invoke(arguments, keywords);
            }
            catch (ChatTemplateException e) when (e is not ChatTemplateRaisedException && !e.Message.StartsWith("chat template", StringComparison.Ordinal))
            {
                throw Error(line, e.Message);
            }
        }

        if (target is JinjaUndefined u)
        {
            throw Error(line, $"{u.Description} is undefined, so it cannot be called");
        }

        throw Error(line, $"a {JinjaValues.TypeName(target)} is not callable");
    }

    internal static IEnumerable<object?> Iterate(object? value, int line) => value switch
    {
        JinjaList list => list,
        JinjaDict dict => dict.Keys,
        string s => CodePoints(s).Select(c => (object?)char.ConvertFromUtf32(c)),
        JinjaUndefined => [],
        _ => throw Error(line, $"a {JinjaValues.TypeName(value)} is not iterable"),
    };

    // Globals --------------------------------------------------------------------------------------------------------

    private static IEnumerable<KeyValuePair<string, object?>> BuiltinGlobals()
    {
        yield return new("raise_exception", new JinjaCallable("raise_exception", (args, _) =>
            throw new ChatTemplateRaisedException(args.Count > 0 ? JinjaValues.ToStr(args[0]) : "raise_exception() was called")));
        yield return new("range", new JinjaCallable("range", (args, _) =>
        {
            long start = 0, stop, step = 1;
            switch (args.Count)
            {
                case 1: stop = AsLong(args[0]); break;
                case 2: start = AsLong(args[0]); stop = AsLong(args[1]); break;
                case 3: start = AsLong(args[0]); stop = AsLong(args[1]); step = AsLong(args[2]); break;
                default: throw new ChatTemplateException("range() takes 1 to 3 arguments");
            }

            if (step == 0)
            {
                throw new ChatTemplateException("range() step cannot be zero");
            }

            long count = step > 0 ? Math.Max(0, (stop - start + step - 1) / step) : Math.Max(0, (start - stop - step - 1) / -step);
            CheckSize(count, 0);
            var result = new JinjaList();
            for (long i = 0; i < count; i++)
            {
                result.Add(start + (i * step));
            }

            return result;
        }));
        yield return new("namespace", new JinjaCallable("namespace", (args, keywords) =>
        {
            var ns = new JinjaNamespace();
            foreach (object? arg in args)
            {
                if (arg is JinjaDict dict)
                {
                    foreach (KeyValuePair<object, object?> item in dict.Items)
                    {
                        ns.Attributes.Set(item.Key, item.Value);
                    }
                }
            }

            foreach ((string key, object? value) in keywords)
            {
                ns.Attributes.Set(key, value);
            }

            return ns;
        }));
        yield return new("dict", new JinjaCallable("dict", (args, keywords) =>
        {
            var dict = new JinjaDict();
            if (args.Count > 0 && args[0] is JinjaDict source)
            {
                foreach (KeyValuePair<object, object?> item in source.Items)
                {
                    dict.Set(item.Key, item.Value);
                }
            }

            foreach ((string key, object? value) in keywords)
            {
                dict.Set(key, value);
            }

            return dict;
        }));
        yield return new("strftime_now", new JinjaCallable("strftime_now", (args, _) =>
            Strftime(DateTime.Now, args.Count > 0 ? JinjaValues.ToStr(args[0]) : "%Y-%m-%d")));
    }

    /// <summary>Python's <c>strftime</c> for the directives chat templates use (dates in system prompts).</summary>
    internal static string Strftime(DateTime time, string format)
    {
        var builder = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                builder.Append(format[i]);
                continue;
            }

            char d = format[++i];
            bool noPad = false;
            if (d == '-' && i + 1 < format.Length)
            {
                noPad = true;
                d = format[++i];
            }

            string Pad(int v) => noPad ? v.ToString(CultureInfo.InvariantCulture) : v.ToString("00", CultureInfo.InvariantCulture);
            builder.Append(d switch
            {
                'Y' => time.Year.ToString(CultureInfo.InvariantCulture),
                'y' => Pad(time.Year % 100),
                'm' => Pad(time.Month),
                'd' => Pad(time.Day),
                'H' => Pad(time.Hour),
                'I' => Pad(time.Hour % 12 == 0 ? 12 : time.Hour % 12),
                'M' => Pad(time.Minute),
                'S' => Pad(time.Second),
                'p' => time.Hour < 12 ? "AM" : "PM",
                'b' => time.ToString("MMM", CultureInfo.InvariantCulture),
                'B' => time.ToString("MMMM", CultureInfo.InvariantCulture),
                'a' => time.ToString("ddd", CultureInfo.InvariantCulture),
                'A' => time.ToString("dddd", CultureInfo.InvariantCulture),
                'j' => noPad ? time.DayOfYear.ToString(CultureInfo.InvariantCulture) : time.DayOfYear.ToString("000", CultureInfo.InvariantCulture),
                '%' => "%",
                _ => "%" + d,
            });
        }

        return builder.ToString();
    }
}

/// <summary>The template called <c>raise_exception(message)</c>: the conversation does not fit the template.</summary>
public sealed class ChatTemplateRaisedException : ChatTemplateException
{
    /// <summary>Creates the exception with the template's own message.</summary>
    public ChatTemplateRaisedException(string templateMessage)
        : base($"the chat template refused the messages: {templateMessage}") => TemplateMessage = templateMessage;

    /// <summary>The message the template passed to <c>raise_exception</c>.</summary>
    public string TemplateMessage { get; }
}
