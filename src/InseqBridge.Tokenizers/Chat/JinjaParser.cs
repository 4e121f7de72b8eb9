using System.Globalization;

namespace InseqBridge.Tokenizers.Chat;

/// <summary>
/// Recursive-descent parser for the Jinja subset chat templates use, with Jinja's operator precedence
/// (conditional &lt; or &lt; and &lt; not &lt; comparison &lt; + - &lt; ~ &lt; * / // % &lt; ** &lt; unary &lt;
/// postfix, filters and tests). Nesting is bounded so a hostile template cannot exhaust the stack.
/// </summary>
internal sealed class JinjaParser
{
    /// <summary>Deepest nesting of blocks and expressions accepted.</summary>
    public const int MaxDepth = 200;

    private readonly List<JinjaToken> _tokens;
    private int _position;
    private int _depth;

    private JinjaParser(List<JinjaToken> tokens) => _tokens = tokens;

    public static IReadOnlyList<JinjaNode> Parse(string template)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(template));
        List<JinjaNode> body = parser.ParseBody(out string? end);
        if (end is not null)
        {
            throw parser.Error($"'{{% {end} %}}' has no matching opening tag");
        }

        return body;
    }

    private JinjaToken Current => _tokens[_position];

    private JinjaToken Next() => _tokens[_position++];

    private bool IsOperator(string op) => Current.Kind == JinjaTokenKind.Operator && Current.Value == op;

    private bool IsName(string name) => Current.Kind == JinjaTokenKind.Name && Current.Value == name;

    private bool IsNameAt(int offset, string name)
    {
        JinjaToken token = _tokens[Math.Min(_position + offset, _tokens.Count - 1)];
        return token.Kind == JinjaTokenKind.Name && token.Value == name;
    }

    private void Expect(string op)
    {
        if (!IsOperator(op))
        {
            throw Error($"expected '{op}' but found {Describe(Current)}");
        }

        _position++;
    }

    private void ExpectName(string name)
    {
        if (!IsName(name))
        {
            throw Error($"expected '{name}' but found {Describe(Current)}");
        }

        _position++;
    }

    private string ExpectIdentifier()
    {
        if (Current.Kind != JinjaTokenKind.Name)
        {
            throw Error($"expected a name but found {Describe(Current)}");
        }

        return Next().Value;
    }

    private void ExpectKind(JinjaTokenKind kind, string what)
    {
        if (Current.Kind != kind)
        {
            throw Error($"expected {what} but found {Describe(Current)}");
        }

        _position++;
    }

    private static string Describe(JinjaToken token) => token.Kind switch
    {
        JinjaTokenKind.End => "the end of the template",
        JinjaTokenKind.CloseStatement => "'%}'",
        JinjaTokenKind.CloseExpression => "'}}'",
        JinjaTokenKind.Text => "text",
        _ => $"'{token.Value}'",
    };

    private ChatTemplateException Error(string problem) =>
        new($"chat template syntax error on line {Current.Line}: {problem}.");

    private void Enter()
    {
        if (++_depth > MaxDepth)
        {
            throw Error($"nesting deeper than {MaxDepth} levels");
        }
    }

    // Statements ---------------------------------------------------------------------------------------------------

    /// <summary>Parses nodes until the end or a closing/intermediate tag, returned in <paramref name="end"/> with
    /// the parser positioned after the tag name.</summary>
    private List<JinjaNode> ParseBody(out string? end, params string[] ends)
    {
        Enter();
        var nodes = new List<JinjaNode>();
        while (true)
        {
            JinjaToken token = Current;
            switch (token.Kind)
            {
                case JinjaTokenKind.End:
                    if (ends.Length > 0)
                    {
                        throw Error($"the template ends before '{{% {ends[^1]} %}}'");
                    }

                    end = null;
                    _depth--;
                    return nodes;
                case JinjaTokenKind.Text:
                    _position++;
                    nodes.Add(new TextNode(token.Value, token.Line));
                    break;
                case JinjaTokenKind.OpenExpression:
                    _position++;
                    JinjaExpr value = ParseExpression();
                    ExpectKind(JinjaTokenKind.CloseExpression, "'}}'");
                    nodes.Add(new OutputNode(value, token.Line));
                    break;
                case JinjaTokenKind.OpenStatement:
                    _position++;
                    string keyword = ExpectIdentifier();
                    if (ends.Contains(keyword) || keyword.StartsWith("end", StringComparison.Ordinal) || keyword is "elif" or "else")
                    {
                        if (!ends.Contains(keyword))
                        {
                            throw Error($"unexpected '{{% {keyword} %}}'");
                        }

                        end = keyword;
                        _depth--;
                        return nodes;
                    }

                    nodes.Add(ParseStatement(keyword, token.Line));
                    break;
                default:
                    throw Error($"unexpected {Describe(token)}");
            }
        }
    }

    private JinjaNode ParseStatement(string keyword, int line)
    {
        switch (keyword)
        {
            case "if":
                return ParseIf(line);
            case "for":
                return ParseFor(line);
            case "set":
                return ParseSet(line);
            case "macro":
                return ParseMacro(line);
            case "call":
                return ParseCallBlock(line);
            case "filter":
                return ParseFilterBlock(line);
            case "break":
                ExpectKind(JinjaTokenKind.CloseStatement, "'%}'");
                return new BreakNode(line);
            case "continue":
                ExpectKind(JinjaTokenKind.CloseStatement, "'%}'");
                return new ContinueNode(line);
            default:
                _position--;
                throw Error($"unknown statement '{keyword}'");
        }
    }

    private IfNode ParseIf(int line)
    {
        var branches = new List<(JinjaExpr, IReadOnlyList<JinjaNode>)>();
        IReadOnlyList<JinjaNode> elseBody = [];
        JinjaExpr condition = ParseExpression();
        while (true)
        {
            ExpectKind(JinjaTokenKind.CloseStatement, "'%}'");
            List<JinjaNode> body = ParseBody(out string? end, "elif", "else", "endif");
            branches.Add((condition, body));
            if (end == "elif")
            {
                condition = ParseExpression();
                continue;
            }

            if (end == "else")
            {
                ExpectKind(JinjaTokenKind.CloseStatement, "'%}'");
                elseBody = ParseBody(out _, "endif");
            }

            ExpectKind(JinjaTokenKind.CloseStatement, "'%}'");
            return new IfNode(branches, elseBody, line);
        }
    }

    private ForNode ParseFor(int line)
    {
        var targets = new List<string> { ExpectIdentifier() };
        while (IsOperator(","))
        {
            _position++;
            targets.Add(ExpectIdentifier());
        }

        ExpectName("in");
        JinjaExpr iterable = ParseConditional(allowConditional: false);
        JinjaExpr? filter = null;
        if (IsName("if"))
        {
            _position++;
            filter = ParseConditional(allowConditional: false);
        }

        if (IsName("recursive"))
        {
            throw Error("recursive loops are not supported");
        }

        ExpectKind(JinjaTokenKind.CloseStatement, "'%}'");
        List<JinjaNode> body = ParseBody(out string? end, "else", "endfor");
        IReadOnlyList<JinjaNode> elseBody = [];
        if (end == "else")
        {
            ExpectKind(JinjaTokenKind.CloseStatement, "'%}'");
            elseBody = ParseBody(out _, "endfor");
        }

        ExpectKind(JinjaTokenKind.CloseStatement, "'%}'");
        return new ForNode(targets, iterable, filter, body, elseBody, line);
    }

    private SetNode ParseSet(int line)
    {
        var targets = new List<string> { ExpectIdentifier() };
        string? attribute = null;
        if (IsOperator("."))
        {
            _position++;
            attribute = ExpectIdentifier();
        }
        else
        {
            while (IsOperator(","))
            {
                _position++;
                targets.Add(ExpectIdentifier());
            }
        }

        if (IsOperator("="))
        {
            _position++;
            JinjaExpr value = ParseTuple();
            ExpectKind(JinjaTokenKind.CloseStatement, "'%}'");
            return new SetNode(targets, attribute, value, null, line);
        }

        if (attribute is not null || targets.Count != 1)
        {
            throw Error("a block '{% set %}' assigns one plain name");
        }

        ExpectKind(JinjaTokenKind.CloseStatement, "'%}'");
        List<JinjaNode> body = ParseBody(out _, "endset");
        ExpectKind(JinjaTokenKind.CloseStatement, "'%}'");
        return new SetNode(targets, null, null, body, line);
    }

    private List<(string, JinjaExpr?)> ParseParameters()
    {
        var parameters = new List<(string, JinjaExpr?)>();
        Expect("(");
        while (!IsOperator(")"))
        {
            string name = ExpectIdentifier();
            JinjaExpr? defaultValue = null;
            if (IsOperator("="))
            {
                _position++;
                defaultValue = ParseExpression();
            }

            parameters.Add((name, defaultValue));
            if (!IsOperator(")"))
            {
                Expect(",");
            }
        }

        _position++;
        return parameters;
    }

    private MacroNode ParseMacro(int line)
    {
        string name = ExpectIdentifier();
        List<(string, JinjaExpr?)> parameters = ParseParameters();
        ExpectKind(JinjaTokenKind.CloseStatement, "'%}'");
        List<JinjaNode> body = ParseBody(out _, "endmacro");
        ExpectKind(JinjaTokenKind.CloseStatement, "'%}'");
        return new MacroNode(name, parameters, body, line);
    }

    private CallBlockNode ParseCallBlock(int line)
    {
        List<(string, JinjaExpr?)> parameters = IsOperator("(") ? ParseParameters() : [];
        JinjaExpr call = ParseExpression();
        if (call is not CallExpr)
        {
            throw Error("'{% call %}' needs a macro call");
        }

        ExpectKind(JinjaTokenKind.CloseStatement, "'%}'");
        List<JinjaNode> body = ParseBody(out _, "endcall");
        ExpectKind(JinjaTokenKind.CloseStatement, "'%}'");
        return new CallBlockNode(call, parameters, body, line);
    }

    private FilterBlockNode ParseFilterBlock(int line)
    {
        string name = ExpectIdentifier();
        var arguments = new List<JinjaExpr>();
        var keywords = new List<(string, JinjaExpr)>();
        if (IsOperator("("))
        {
            ParseArguments(arguments, keywords);
        }

        ExpectKind(JinjaTokenKind.CloseStatement, "'%}'");
        List<JinjaNode> body = ParseBody(out _, "endfilter");
        ExpectKind(JinjaTokenKind.CloseStatement, "'%}'");
        return new FilterBlockNode(name, arguments, keywords, body, line);
    }

    // Expressions --------------------------------------------------------------------------------------------------

    /// <summary>An expression, or a tuple when commas follow (as on the right of <c>set</c>).</summary>
    private JinjaExpr ParseTuple()
    {
        int line = Current.Line;
        JinjaExpr first = ParseExpression();
        if (!IsOperator(","))
        {
            return first;
        }

        var items = new List<JinjaExpr> { first };
        while (IsOperator(","))
        {
            _position++;
            if (Current.Kind is JinjaTokenKind.CloseStatement or JinjaTokenKind.CloseExpression)
            {
                break;
            }

            items.Add(ParseExpression());
        }

        return new ListExpr(items, IsTuple: true, line);
    }

    private JinjaExpr ParseExpression() => ParseConditional(allowConditional: true);

    private JinjaExpr ParseConditional(bool allowConditional)
    {
        Enter();
        JinjaExpr value = ParseOr();
        while (allowConditional && IsName("if"))
        {
            int line = Current.Line;
            _position++;
            JinjaExpr condition = ParseOr();
            JinjaExpr? otherwise = null;
            if (IsName("else"))
            {
                _position++;
                otherwise = ParseConditional(allowConditional: true);
            }

            value = new ConditionalExpr(condition, value, otherwise, line);
        }

        _depth--;
        return value;
    }

    private JinjaExpr ParseOr()
    {
        JinjaExpr left = ParseAnd();
        while (IsName("or"))
        {
            int line = Next().Line;
            left = new BinaryExpr("or", left, ParseAnd(), line);
        }

        return left;
    }

    private JinjaExpr ParseAnd()
    {
        JinjaExpr left = ParseNot();
        while (IsName("and"))
        {
            int line = Next().Line;
            left = new BinaryExpr("and", left, ParseNot(), line);
        }

        return left;
    }

    private JinjaExpr ParseNot()
    {
        if (IsName("not"))
        {
            int line = Next().Line;
            Enter();
            JinjaExpr operand = ParseNot();
            _depth--;
            return new UnaryExpr("not", operand, line);
        }

        return ParseCompare();
    }

    private JinjaExpr ParseCompare()
    {
        int line = Current.Line;
        JinjaExpr first = ParseAdditive();
        var rest = new List<(string, JinjaExpr)>();
        while (true)
        {
            string? op = null;
            if (Current.Kind == JinjaTokenKind.Operator && Current.Value is "==" or "!=" or "<" or ">" or "<=" or ">=")
            {
                op = Next().Value;
            }
            else if (IsName("in"))
            {
                _position++;
                op = "in";
            }
            else if (IsName("not") && IsNameAt(1, "in"))
            {
                _position += 2;
                op = "not in";
            }

            if (op is null)
            {
                break;
            }

            rest.Add((op, ParseAdditive()));
        }

        return rest.Count == 0 ? first : new CompareExpr(first, rest, line);
    }

    private JinjaExpr ParseAdditive()
    {
        JinjaExpr left = ParseConcat();
        while (Current.Kind == JinjaTokenKind.Operator && Current.Value is "+" or "-")
        {
            JinjaToken op = Next();
            left = new BinaryExpr(op.Value, left, ParseConcat(), op.Line);
        }

        return left;
    }

    private JinjaExpr ParseConcat()
    {
        JinjaExpr left = ParseMultiplicative();
        while (IsOperator("~"))
        {
            int line = Next().Line;
            left = new BinaryExpr("~", left, ParseMultiplicative(), line);
        }

        return left;
    }

    private JinjaExpr ParseMultiplicative()
    {
        JinjaExpr left = ParsePower();
        while (Current.Kind == JinjaTokenKind.Operator && Current.Value is "*" or "/" or "//" or "%")
        {
            JinjaToken op = Next();
            left = new BinaryExpr(op.Value, left, ParsePower(), op.Line);
        }

        return left;
    }

    private JinjaExpr ParsePower()
    {
        JinjaExpr left = ParseUnary(withFilters: true);
        while (IsOperator("**"))
        {
            int line = Next().Line;
            left = new BinaryExpr("**", left, ParseUnary(withFilters: true), line);
        }

        return left;
    }

    private JinjaExpr ParseUnary(bool withFilters)
    {
        Enter();
        JinjaExpr node;
        if (Current.Kind == JinjaTokenKind.Operator && Current.Value is "-" or "+")
        {
            JinjaToken op = Next();
            node = new UnaryExpr(op.Value, ParseUnary(withFilters: false), op.Line);
        }
        else
        {
            node = ParsePostfix(ParsePrimary());
        }

        if (withFilters)
        {
            node = ParseFiltersAndTests(node);
        }

        _depth--;
        return node;
    }

    private JinjaExpr ParseFiltersAndTests(JinjaExpr node)
    {
        while (true)
        {
            if (IsOperator("|"))
            {
                int line = Next().Line;
                string name = ParseDottedName();
                var arguments = new List<JinjaExpr>();
                var keywords = new List<(string, JinjaExpr)>();
                if (IsOperator("("))
                {
                    ParseArguments(arguments, keywords);
                }

                node = ParsePostfix(new FilterExpr(node, name, arguments, keywords, line));
            }
            else if (IsName("is"))
            {
                int line = Next().Line;
                bool negated = false;
                if (IsName("not"))
                {
                    _position++;
                    negated = true;
                }

                string name = ParseDottedName();
                var arguments = new List<JinjaExpr>();
                if (IsOperator("("))
                {
                    var keywords = new List<(string, JinjaExpr)>();
                    ParseArguments(arguments, keywords);
                }
                else if (Current.Kind is JinjaTokenKind.String or JinjaTokenKind.Integer or JinjaTokenKind.Float
                         || (Current.Kind == JinjaTokenKind.Name && Current.Value is not ("and" or "or" or "else" or "if" or "in" or "is" or "not")))
                {
                    arguments.Add(ParsePostfix(ParsePrimary()));
                }

                node = new TestExpr(node, name, arguments, negated, line);
            }
            else
            {
                return node;
            }
        }
    }

    private string ParseDottedName()
    {
        string name = ExpectIdentifier();
        while (IsOperator(".") && _tokens[_position + 1].Kind == JinjaTokenKind.Name)
        {
            _position++;
            name += "." + ExpectIdentifier();
        }

        return name;
    }

    private void ParseArguments(List<JinjaExpr> arguments, List<(string, JinjaExpr)> keywords)
    {
        Expect("(");
        while (!IsOperator(")"))
        {
            if (Current.Kind == JinjaTokenKind.Name && _tokens[_position + 1] is { Kind: JinjaTokenKind.Operator, Value: "=" })
            {
                string name = Next().Value;
                _position++;
                keywords.Add((name, ParseExpression()));
            }
            else
            {
                if (keywords.Count > 0)
                {
                    throw Error("a positional argument follows a keyword argument");
                }

                arguments.Add(ParseExpression());
            }

            if (!IsOperator(")"))
            {
                Expect(",");
            }
        }

        _position++;
    }

    private JinjaExpr ParsePostfix(JinjaExpr node)
    {
        while (true)
        {
            int line = Current.Line;
            if (IsOperator("."))
            {
                _position++;
                if (Current.Kind == JinjaTokenKind.Integer)
                {
                    node = new IndexExpr(node, new LiteralExpr(long.Parse(Next().Value, CultureInfo.InvariantCulture), line), line);
                }
                else
                {
                    node = new AttributeExpr(node, ExpectIdentifier(), line);
                }
            }
            else if (IsOperator("["))
            {
                _position++;
                node = ParseSubscript(node, line);
            }
            else if (IsOperator("("))
            {
                var arguments = new List<JinjaExpr>();
                var keywords = new List<(string, JinjaExpr)>();
                ParseArguments(arguments, keywords);
                node = new CallExpr(node, arguments, keywords, line);
            }
            else
            {
                return node;
            }
        }
    }

    private JinjaExpr ParseSubscript(JinjaExpr target, int line)
    {
        JinjaExpr? start = null;
        if (!IsOperator(":"))
        {
            start = ParseExpression();
            if (IsOperator("]"))
            {
                _position++;
                return new IndexExpr(target, start, line);
            }
        }

        Expect(":");
        JinjaExpr? stop = IsOperator(":") || IsOperator("]") ? null : ParseExpression();
        JinjaExpr? step = null;
        if (IsOperator(":"))
        {
            _position++;
            step = IsOperator("]") ? null : ParseExpression();
        }

        Expect("]");
        return new SliceExpr(target, start, stop, step, line);
    }

    private JinjaExpr ParsePrimary()
    {
        JinjaToken token = Current;
        switch (token.Kind)
        {
            case JinjaTokenKind.String:
                _position++;
                string text = token.Value;
                while (Current.Kind == JinjaTokenKind.String)
                {
                    text += Next().Value;
                }

                return new LiteralExpr(text, token.Line);
            case JinjaTokenKind.Integer:
                _position++;
                if (!long.TryParse(token.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long integer))
                {
                    throw Error($"integer literal {token.Value} is too large");
                }

                return new LiteralExpr(integer, token.Line);
            case JinjaTokenKind.Float:
                _position++;
                return new LiteralExpr(double.Parse(token.Value, NumberStyles.Float, CultureInfo.InvariantCulture), token.Line);
            case JinjaTokenKind.Name:
                _position++;
                return token.Value switch
                {
                    "true" or "True" => new LiteralExpr(true, token.Line),
                    "false" or "False" => new LiteralExpr(false, token.Line),
                    "none" or "None" => new LiteralExpr(null, token.Line),
                    _ => new NameExpr(token.Value, token.Line),
                };
            case JinjaTokenKind.Operator when token.Value == "(":
                {
                    _position++;
                    if (IsOperator(")"))
                    {
                        _position++;
                        return new ListExpr([], IsTuple: true, token.Line);
                    }

                    JinjaExpr first = ParseExpression();
                    if (IsOperator(")"))
                    {
                        _position++;
                        return first;
                    }

                    var items = new List<JinjaExpr> { first };
                    while (IsOperator(","))
                    {
                        _position++;
                        if (IsOperator(")"))
                        {
                            break;
                        }

                        items.Add(ParseExpression());
                    }

                    Expect(")");
                    return new ListExpr(items, IsTuple: true, token.Line);
                }

            case JinjaTokenKind.Operator when token.Value == "[":
                {
                    _position++;
                    var items = new List<JinjaExpr>();
                    while (!IsOperator("]"))
                    {
                        items.Add(ParseExpression());
                        if (!IsOperator("]"))
                        {
                            Expect(",");
                        }
                    }

                    _position++;
                    return new ListExpr(items, IsTuple: false, token.Line);
                }

            case JinjaTokenKind.Operator when token.Value == "{":
                {
                    _position++;
                    var items = new List<(JinjaExpr, JinjaExpr)>();
                    while (!IsOperator("}"))
                    {
                        JinjaExpr key = ParseExpression();
                        Expect(":");
                        items.Add((key, ParseExpression()));
                        if (!IsOperator("}"))
                        {
                            Expect(",");
                        }
                    }

                    _position++;
                    return new DictExpr(items, token.Line);
                }

            default:
                throw Error($"unexpected {Describe(token)} in an expression");
        }
    }
}
