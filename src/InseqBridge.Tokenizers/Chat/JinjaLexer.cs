using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace InseqBridge.Tokenizers.Chat;

internal enum JinjaTokenKind
{
    Text,
    OpenExpression,
    CloseExpression,
    OpenStatement,
    CloseStatement,
    Name,
    String,
    Integer,
    Float,
    Operator,
    End,
}

internal readonly record struct JinjaToken(JinjaTokenKind Kind, string Value, int Line);

/// <summary>
/// Splits a chat template into text and tag tokens. Whitespace handling follows the environment Hugging Face
/// renders chat templates with: one trailing newline of the template dropped, <c>lstrip_blocks</c> (spaces and tabs
/// before a statement or comment tag at the start of a line removed), <c>trim_blocks</c> (the newline right after a
/// statement or comment tag removed), and <c>-</c> markers that strip all whitespace on their side.
/// </summary>
internal static partial class JinjaLexer
{
    /// <summary>Longest template accepted (characters); real chat templates are a few kilobytes.</summary>
    public const int MaxTemplateLength = 1 << 20;

    [GeneratedRegex(@"^[ \t]*(\{[#%])", RegexOptions.Multiline)]
    private static partial Regex LeadingBlockWhitespace();

    [GeneratedRegex(@"([#%]\})\n")]
    private static partial Regex NewlineAfterBlock();

    [GeneratedRegex(@"\s*\{%(-?)\s*(?:end)?generation\s*(-?)%\}\s*", RegexOptions.Singleline)]
    private static partial Regex GenerationTag();

    private static readonly string[] Operators =
    [
        "**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}",
        ",", ".", ":", "|",
    ];

    public static List<JinjaToken> Tokenize(string template)
    {
        if (template.Length > MaxTemplateLength)
        {
            throw new ChatTemplateException(
                $"the chat template is {template.Length} characters long, more than the {MaxTemplateLength} accepted; check the file.");
        }

        string source = Preprocess(template);
        var tokens = new List<JinjaToken>();
        int position = 0;
        int line = 1;
        bool stripNextText = false;
        while (position < source.Length)
        {
            int tagStart = FindTag(source, position);
            string text = source[position..(tagStart < 0 ? source.Length : tagStart)];
            bool stripBefore = tagStart >= 0 && tagStart + 2 < source.Length && source[tagStart + 2] == '-';
            if (stripNextText)
            {
                text = text.TrimStart();
            }

            if (stripBefore)
            {
                text = text.TrimEnd();
            }

            if (text.Length > 0)
            {
                tokens.Add(new JinjaToken(JinjaTokenKind.Text, text, line));
            }

            line += CountLines(source, position, tagStart < 0 ? source.Length : tagStart);
            if (tagStart < 0)
            {
                break;
            }

            char kind = source[tagStart + 1];
            position = tagStart + 2 + (stripBefore ? 1 : 0);
            if (kind == '#')
            {
                int end = source.IndexOf("#}", position, StringComparison.Ordinal);
                if (end < 0)
                {
                    throw Error(line, "a comment '{#' is never closed with '#}'");
                }

                stripNextText = end > position && source[end - 1] == '-';
                line += CountLines(source, position, end);
                position = end + 2;
                continue;
            }

            if (kind == '%' && TryReadRaw(source, ref position, ref line, tokens, out stripNextText))
            {
                continue;
            }

            tokens.Add(new JinjaToken(kind == '{' ? JinjaTokenKind.OpenExpression : JinjaTokenKind.OpenStatement, "", line));
            string close = kind == '{' ? "}}" : "%}";
            position = ReadTagBody(source, position, close, ref line, tokens, out stripNextText);
            tokens.Add(new JinjaToken(kind == '{' ? JinjaTokenKind.CloseExpression : JinjaTokenKind.CloseStatement, "", line));
        }

        tokens.Add(new JinjaToken(JinjaTokenKind.End, "", line));
        return tokens;
    }

    private static string Preprocess(string template)
    {
        if (template.EndsWith('\n'))
        {
            template = template[..^1];
        }

        template = LeadingBlockWhitespace().Replace(template, "$1");
        template = NewlineAfterBlock().Replace(template, "$1");
        return GenerationTag().Replace(template, m =>
        {
            string full = m.Value;
            int open = full.IndexOf("{%", StringComparison.Ordinal);
            int close = full.LastIndexOf("%}", StringComparison.Ordinal) + 2;
            string before = m.Groups[1].Value == "-" ? "" : full[..open];
            string after = m.Groups[2].Value == "-" ? "" : full[close..];
            return before + after;
        });
    }

    private static int FindTag(string source, int from)
    {
        for (int i = from; i < source.Length - 1; i++)
        {
            if (source[i] == '{' && (source[i + 1] == '{' || source[i + 1] == '%' || source[i + 1] == '#'))
            {
                return i;
            }
        }

        return -1;
    }

    private static int CountLines(string source, int from, int to)
    {
        int count = 0;
        for (int i = from; i < to; i++)
        {
            if (source[i] == '\n')
            {
                count++;
            }
        }

        return count;
    }

    private static bool TryReadRaw(string source, ref int position, ref int line, List<JinjaToken> tokens, out bool stripNext)
    {
        stripNext = false;
        int p = position;
        while (p < source.Length && char.IsWhiteSpace(source[p]))
        {
            p++;
        }

        if (string.CompareOrdinal(source, p, "raw", 0, 3) != 0 || (p + 3 < source.Length && IsNameChar(source[p + 3])))
        {
            return false;
        }

        int close = source.IndexOf("%}", p, StringComparison.Ordinal);
        if (close < 0)
        {
            throw Error(line, "a '{% raw %}' tag is never closed");
        }

        bool stripInside = source[close - 1] == '-';
        int bodyStart = close + 2;
        Match end = Regex.Match(source[bodyStart..], @"\{%(-?)\s*endraw\s*(-?)%\}");
        if (!end.Success)
        {
            throw Error(line, "'{% raw %}' has no matching '{% endraw %}'");
        }

        string body = source.Substring(bodyStart, end.Index);
        if (stripInside)
        {
            body = body.TrimStart();
        }

        if (end.Groups[1].Value == "-")
        {
            body = body.TrimEnd();
        }

        if (body.Length > 0)
        {
            tokens.Add(new JinjaToken(JinjaTokenKind.Text, body, line));
        }

        line += CountLines(source, position, bodyStart + end.Index + end.Length);
        position = bodyStart + end.Index + end.Length;
        stripNext = end.Groups[2].Value == "-";
        return true;
    }

    private static int ReadTagBody(string source, int position, string close, ref int line, List<JinjaToken> tokens, out bool stripNext)
    {
        int depth = 0;
        while (true)
        {
            if (position >= source.Length)
            {
                throw Error(line, $"a tag is never closed with '{close}'");
            }

            char c = source[position];
            if (c == '\n')
            {
                line++;
            }

            if (char.IsWhiteSpace(c))
            {
                position++;
                continue;
            }

            if (depth == 0 && c == '-' && string.CompareOrdinal(source, position + 1, close, 0, 2) == 0)
            {
                stripNext = true;
                return position + 3;
            }

            if (depth == 0 && string.CompareOrdinal(source, position, close, 0, 2) == 0)
            {
                stripNext = false;
                return position + 2;
            }

            if (c is '\'' or '"')
            {
                position = ReadString(source, position, line, tokens);
                continue;
            }

            if (char.IsAsciiDigit(c))
            {
                position = ReadNumber(source, position, line, tokens);
                continue;
            }

            if (IsNameChar(c))
            {
                int start = position;
                while (position < source.Length && IsNameChar(source[position]))
                {
                    position++;
                }

                tokens.Add(new JinjaToken(JinjaTokenKind.Name, source[start..position], line));
                continue;
            }

            string? op = null;
            foreach (string candidate in Operators)
            {
                if (string.CompareOrdinal(source, position, candidate, 0, candidate.Length) == 0)
                {
                    op = candidate;
                    break;
                }
            }

            if (op is null)
            {
                throw Error(line, $"unexpected character '{c}' inside a tag");
            }

            if (op is "(" or "[" or "{")
            {
                depth++;
            }
            else if (op is ")" or "]" or "}")
            {
                depth = Math.Max(0, depth - 1);
            }

            tokens.Add(new JinjaToken(JinjaTokenKind.Operator, op, line));
            position += op.Length;
        }
    }

    private static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';

    private static int ReadNumber(string source, int position, int line, List<JinjaToken> tokens)
    {
        int start = position;
        while (position < source.Length && (char.IsAsciiDigit(source[position]) || source[position] == '_'))
        {
            position++;
        }

        bool isFloat = false;
        if (position + 1 < source.Length && source[position] == '.' && char.IsAsciiDigit(source[position + 1]))
        {
            isFloat = true;
            position++;
            while (position < source.Length && char.IsAsciiDigit(source[position]))
            {
                position++;
            }
        }

        if (position < source.Length && (source[position] == 'e' || source[position] == 'E'))
        {
            int p = position + 1;
            if (p < source.Length && (source[p] == '+' || source[p] == '-'))
            {
                p++;
            }

            if (p < source.Length && char.IsAsciiDigit(source[p]))
            {
                isFloat = true;
                position = p;
                while (position < source.Length && char.IsAsciiDigit(source[position]))
                {
                    position++;
                }
            }
        }

        string text = source[start..position].Replace("_", "", StringComparison.Ordinal);
        tokens.Add(new JinjaToken(isFloat ? JinjaTokenKind.Float : JinjaTokenKind.Integer, text, line));
        return position;
    }

    private static int ReadString(string source, int position, int line, List<JinjaToken> tokens)
    {
        char quote = source[position++];
        var builder = new StringBuilder();
        while (true)
        {
            if (position >= source.Length)
            {
                throw Error(line, "a string literal is never closed");
            }

            char c = source[position++];
            if (c == quote)
            {
                break;
            }

            if (c != '\\')
            {
                builder.Append(c);
                continue;
            }

            if (position >= source.Length)
            {
                throw Error(line, "a string literal ends with a lone backslash");
            }

            char e = source[position++];
            switch (e)
            {
                case 'n': builder.Append('\n'); break;
                case 't': builder.Append('\t'); break;
                case 'r': builder.Append('\r'); break;
                case 'b': builder.Append('\b'); break;
                case 'f': builder.Append('\f'); break;
                case 'v': builder.Append('\v'); break;
                case '0': builder.Append('\0'); break;
                case '\\': builder.Append('\\'); break;
                case '\'': builder.Append('\''); break;
                case '"': builder.Append('"'); break;
                case '\n': break;
                case 'x':
                case 'u':
                case 'U':
                    int length = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    if (position + length > source.Length
                        || !int.TryParse(source.AsSpan(position, length), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int code))
                    {
                        throw Error(line, $"invalid escape sequence '\\{e}' in a string literal");
                    }

                    builder.Append(char.ConvertFromUtf32(code));
                    position += length;
                    break;
                default:
                    builder.Append('\\').Append(e);
                    break;
            }
        }

        tokens.Add(new JinjaToken(JinjaTokenKind.String, builder.ToString(), line));
        return position;
    }

    private static ChatTemplateException Error(int line, string problem) =>
        new($"chat template syntax error on line {line}: {problem}.");
}
