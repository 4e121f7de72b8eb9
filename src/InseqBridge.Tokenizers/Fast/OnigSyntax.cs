using System.Text;

namespace InseqBridge.Tokenizers.Fast;

/// <summary>
/// Rewrites the few Oniguruma constructs that .NET's regex syntax spells differently: possessive quantifiers
/// (<c>x++</c>, <c>x*+</c>, <c>x?+</c>, <c>x{n,m}+</c> become atomic groups) and negated properties (<c>\p{^L}</c>).
/// </summary>
internal static class OnigSyntax
{
    public static string ToDotNet(string pattern)
    {
        if (!pattern.Contains('+') && !pattern.Contains("{^", StringComparison.Ordinal))
        {
            return pattern;
        }
        var output = new StringBuilder(pattern.Length + 16);
        var groupStarts = new Stack<int>();
        int lastAtomStart = -1;
        int i = 0;
        while (i < pattern.Length)
        {
            char c = pattern[i];
            int atomStart = output.Length;
            switch (c)
            {
                case '\\':
                    {
                        if (i + 2 < pattern.Length && (pattern[i + 1] == 'p' || pattern[i + 1] == 'P') && pattern[i + 2] == '{')
                        {
                            int close = pattern.IndexOf('}', i);
                            string body = pattern[(i + 3)..close];
                            bool negate = body.StartsWith('^');
                            char p = negate ? (pattern[i + 1] == 'p' ? 'P' : 'p') : pattern[i + 1];
                            output.Append('\\').Append(p).Append('{').Append(negate ? body[1..] : body).Append('}');
                            i = close + 1;
                        }
                        else
                        {
                            output.Append(pattern, i, Math.Min(2, pattern.Length - i));
                            i += 2;
                        }
                        lastAtomStart = atomStart;
                        continue;
                    }
                case '[':
                    {
                        int j = i + 1;
                        if (j < pattern.Length && pattern[j] == '^')
                        {
                            j++;
                        }
                        if (j < pattern.Length && pattern[j] == ']')
                        {
                            j++;
                        }
                        int depth = 1;
                        while (j < pattern.Length && depth > 0)
                        {
                            if (pattern[j] == '\\')
                            {
                                j += 2;
                                continue;
                            }
                            if (pattern[j] == '[')
                            {
                                depth++;
                            }
                            else if (pattern[j] == ']')
                            {
                                depth--;
                            }
                            j++;
                        }
                        output.Append(ToDotNetClass(pattern[i..j]));
                        i = j;
                        lastAtomStart = atomStart;
                        continue;
                    }
                case '(':
                    groupStarts.Push(output.Length);
                    output.Append(c);
                    i++;
                    lastAtomStart = -1;
                    continue;
                case ')':
                    output.Append(c);
                    i++;
                    lastAtomStart = groupStarts.Count > 0 ? groupStarts.Pop() : -1;
                    continue;
                case '*':
                case '+':
                case '?':
                case '{':
                    {
                        int end = i + 1;
                        if (c == '{')
                        {
                            int close = pattern.IndexOf('}', i);
                            if (close < 0)
                            {
                                output.Append(c);
                                i++;
                                continue;
                            }
                            end = close + 1;
                        }
                        string quantifier = pattern[i..end];
                        if (end < pattern.Length && pattern[end] == '+' && lastAtomStart >= 0)
                        {
                            string atom = output.ToString(lastAtomStart, output.Length - lastAtomStart);
                            output.Length = lastAtomStart;
                            output.Append("(?>").Append(atom).Append(quantifier).Append(')');
                            i = end + 1;
                        }
                        else
                        {
                            output.Append(quantifier);
                            i = end;
                            if (i < pattern.Length && pattern[i] == '?')
                            {
                                output.Append('?');
                                i++;
                            }
                        }
                        lastAtomStart = -1;
                        continue;
                    }
                default:
                    output.Append(c);
                    i++;
                    lastAtomStart = atomStart;
                    continue;
            }
        }
        return output.ToString();
    }

    private static string ToDotNetClass(string cls) =>
        cls.Contains("{^", StringComparison.Ordinal)
            ? cls.Replace("\\p{^", "\\P{", StringComparison.Ordinal).Replace("\\P{^", "\\p{", StringComparison.Ordinal)
            : cls;
}
