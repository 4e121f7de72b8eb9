namespace InseqBridge.Tokenizers.Chat;

// Statements ------------------------------------------------------------------------------------------------------

internal abstract record JinjaNode(int Line);

internal sealed record TextNode(string Text, int Line) : JinjaNode(Line);

internal sealed record OutputNode(JinjaExpr Value, int Line) : JinjaNode(Line);

internal sealed record IfNode(IReadOnlyList<(JinjaExpr Condition, IReadOnlyList<JinjaNode> Body)> Branches, IReadOnlyList<JinjaNode> Else, int Line)
    : JinjaNode(Line);

internal sealed record ForNode(
    IReadOnlyList<string> Targets,
    JinjaExpr Iterable,
    JinjaExpr? Filter,
    IReadOnlyList<JinjaNode> Body,
    IReadOnlyList<JinjaNode> Else,
    int Line) : JinjaNode(Line);

/// <summary><c>{% set a = x %}</c>, <c>{% set a, b = x %}</c>, <c>{% set ns.a = x %}</c> or the block form.</summary>
internal sealed record SetNode(IReadOnlyList<string> Targets, string? Attribute, JinjaExpr? Value, IReadOnlyList<JinjaNode>? Body, int Line)
    : JinjaNode(Line);

internal sealed record MacroNode(string Name, IReadOnlyList<(string Name, JinjaExpr? Default)> Parameters, IReadOnlyList<JinjaNode> Body, int Line)
    : JinjaNode(Line);

internal sealed record CallBlockNode(JinjaExpr Call, IReadOnlyList<(string Name, JinjaExpr? Default)> Parameters, IReadOnlyList<JinjaNode> Body, int Line)
    : JinjaNode(Line);

internal sealed record FilterBlockNode(string Filter, IReadOnlyList<JinjaExpr> Arguments, IReadOnlyList<(string Name, JinjaExpr Value)> Keywords, IReadOnlyList<JinjaNode> Body, int Line)
    : JinjaNode(Line);

internal sealed record BreakNode(int Line) : JinjaNode(Line);

internal sealed record ContinueNode(int Line) : JinjaNode(Line);

// Expressions -----------------------------------------------------------------------------------------------------

internal abstract record JinjaExpr(int Line);

internal sealed record LiteralExpr(object? Value, int Line) : JinjaExpr(Line);

internal sealed record NameExpr(string Name, int Line) : JinjaExpr(Line);

internal sealed record ListExpr(IReadOnlyList<JinjaExpr> Items, bool IsTuple, int Line) : JinjaExpr(Line);

internal sealed record DictExpr(IReadOnlyList<(JinjaExpr Key, JinjaExpr Value)> Items, int Line) : JinjaExpr(Line);

internal sealed record AttributeExpr(JinjaExpr Target, string Name, int Line) : JinjaExpr(Line);

internal sealed record IndexExpr(JinjaExpr Target, JinjaExpr Index, int Line) : JinjaExpr(Line);

internal sealed record SliceExpr(JinjaExpr Target, JinjaExpr? Start, JinjaExpr? Stop, JinjaExpr? Step, int Line) : JinjaExpr(Line);

internal sealed record CallExpr(JinjaExpr Target, IReadOnlyList<JinjaExpr> Arguments, IReadOnlyList<(string Name, JinjaExpr Value)> Keywords, int Line)
    : JinjaExpr(Line);

internal sealed record FilterExpr(JinjaExpr Target, string Name, IReadOnlyList<JinjaExpr> Arguments, IReadOnlyList<(string Name, JinjaExpr Value)> Keywords, int Line)
    : JinjaExpr(Line);

internal sealed record TestExpr(JinjaExpr Target, string Name, IReadOnlyList<JinjaExpr> Arguments, bool Negated, int Line) : JinjaExpr(Line);

internal sealed record UnaryExpr(string Operator, JinjaExpr Operand, int Line) : JinjaExpr(Line);

internal sealed record BinaryExpr(string Operator, JinjaExpr Left, JinjaExpr Right, int Line) : JinjaExpr(Line);

/// <summary>A chain <c>a &lt; b &lt;= c</c>: each comparison on neighbours, all must hold.</summary>
internal sealed record CompareExpr(JinjaExpr First, IReadOnlyList<(string Operator, JinjaExpr Operand)> Rest, int Line) : JinjaExpr(Line);

internal sealed record ConditionalExpr(JinjaExpr Condition, JinjaExpr Then, JinjaExpr? Else, int Line) : JinjaExpr(Line);
