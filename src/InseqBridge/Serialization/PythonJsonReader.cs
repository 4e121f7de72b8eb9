using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace InseqBridge.Serialization;

/// <summary>
/// A small JSON parser that accepts what Python's <c>json.dump(allow_nan=True)</c> writes: standard JSON plus the
/// bare tokens <c>NaN</c>, <c>Infinity</c> and <c>-Infinity</c>, which System.Text.Json rejects. Integers become
/// <see cref="long"/> values and other numbers <see cref="double"/> values, so a re-save can tell them apart.
/// </summary>
internal sealed class PythonJsonReader
{
    private readonly string _text;
    private readonly string? _file;
    private readonly int _maxDepth;
    private int _pos;
    private int _depth;

    private PythonJsonReader(string text, string? file, int maxDepth)
    {
        _text = text;
        _file = file;
        _maxDepth = maxDepth;
    }

    /// <summary>Parses one JSON document. Nesting deeper than <paramref name="maxDepth"/> levels is refused (the
    /// parser recurses once per level, so an unbounded depth would overflow the stack and kill the process).</summary>
    /// <exception cref="InseqJsonException">The text is not valid (Python-flavoured) JSON or nests too deeply.</exception>
    public static JsonNode? Parse(string text, string? file, int maxDepth = 256)
    {
        var reader = new PythonJsonReader(text, file, Math.Clamp(maxDepth, 1, 10_000));
        JsonNode? root = reader.ParseValue("$");
        reader.SkipWhitespace();
        if (reader._pos != text.Length)
        {
            throw reader.Error("$", "unexpected text after the JSON document");
        }

        return root;
    }

    private JsonNode? ParseValue(string path)
    {
        SkipWhitespace();
        if (_pos >= _text.Length)
        {
            throw Error(path, "unexpected end of input");
        }

        char c = _text[_pos];
        switch (c)
        {
            case '{':
                return ParseObject(path);
            case '[':
                return ParseArray(path);
            case '"':
                return JsonValue.Create(ParseString(path));
            case 't':
                Expect("true", path);
                return JsonValue.Create(true);
            case 'f':
                Expect("false", path);
                return JsonValue.Create(false);
            case 'n':
                Expect("null", path);
                return null;
            case 'N':
                Expect("NaN", path);
                return JsonValue.Create(double.NaN);
            case 'I':
                Expect("Infinity", path);
                return JsonValue.Create(double.PositiveInfinity);
            default:
                if (c == '-' && string.CompareOrdinal(_text, _pos, "-Infinity", 0, 9) == 0)
                {
                    _pos += 9;
                    return JsonValue.Create(double.NegativeInfinity);
                }

                if (c == '-' || char.IsAsciiDigit(c))
                {
                    return ParseNumber(path);
                }

                throw Error(path, $"unexpected character '{c}'");
        }
    }

    private void Enter(string path)
    {
        if (++_depth > _maxDepth)
        {
            throw Error(path, $"the JSON nests deeper than {_maxDepth} levels (Inseq files nest about 10); the file is not an Inseq result (InseqReadLimits.MaxDepth raises the limit)");
        }
    }

    private JsonObject ParseObject(string path)
    {
        Enter(path);
        var obj = new JsonObject();
        _pos++;
        SkipWhitespace();
        if (Peek() == '}')
        {
            _pos++;
            _depth--;
            return obj;
        }

        while (true)
        {
            SkipWhitespace();
            if (Peek() != '"')
            {
                throw Error(path, "expected a property name");
            }

            string key = ParseString(path);
            SkipWhitespace();
            if (Peek() != ':')
            {
                throw Error(path, $"expected ':' after property name \"{key}\"");
            }

            _pos++;
            string childPath = $"{path}.{key}";
            JsonNode? value = ParseValue(childPath);

            // Python keeps the last duplicate; so do we.
            obj[key] = value;
            SkipWhitespace();
            char c = Peek();
            _pos++;
            if (c == '}')
            {
                _depth--;
                return obj;
            }

            if (c != ',')
            {
                throw Error(childPath, "expected ',' or '}'");
            }
        }
    }

    private JsonArray ParseArray(string path)
    {
        Enter(path);
        var array = new JsonArray();
        _pos++;
        SkipWhitespace();
        if (Peek() == ']')
        {
            _pos++;
            _depth--;
            return array;
        }

        while (true)
        {
            string childPath = $"{path}[{array.Count}]";
            array.Add(ParseValue(childPath));
            SkipWhitespace();
            char c = Peek();
            _pos++;
            if (c == ']')
            {
                _depth--;
                return array;
            }

            if (c != ',')
            {
                throw Error(childPath, "expected ',' or ']'");
            }
        }
    }

    private string ParseString(string path)
    {
        _pos++; // opening quote
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _text.Length)
            {
                throw Error(path, "unterminated string");
            }

            char c = _text[_pos++];
            if (c == '"')
            {
                return sb.ToString();
            }

            if (c != '\\')
            {
                if (c < 0x20)
                {
                    throw Error(path, "control character in string");
                }

                sb.Append(c);
                continue;
            }

            if (_pos >= _text.Length)
            {
                throw Error(path, "unterminated escape");
            }

            char e = _text[_pos++];
            switch (e)
            {
                case '"': sb.Append('"'); break;
                case '\\': sb.Append('\\'); break;
                case '/': sb.Append('/'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'u':
                    if (_pos + 4 > _text.Length
                        || !ushort.TryParse(_text.AsSpan(_pos, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ushort code))
                    {
                        throw Error(path, "bad \\u escape");
                    }

                    sb.Append((char)code);
                    _pos += 4;
                    break;
                default:
                    throw Error(path, $"bad escape '\\{e}'");
            }
        }
    }

    private JsonValue ParseNumber(string path)
    {
        int start = _pos;
        bool isFloat = false;
        if (Peek() == '-')
        {
            _pos++;
        }

        while (_pos < _text.Length)
        {
            char c = _text[_pos];
            if (char.IsAsciiDigit(c))
            {
                _pos++;
            }
            else if (c is '.' or 'e' or 'E' or '+' or '-')
            {
                isFloat = true;
                _pos++;
            }
            else
            {
                break;
            }
        }

        ReadOnlySpan<char> token = _text.AsSpan(start, _pos - start);
        if (!isFloat && long.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long integer))
        {
            return JsonValue.Create(integer);
        }

        if (double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out double real))
        {
            return JsonValue.Create(real);
        }

        throw Error(path, $"bad number '{token}'");
    }

    private void Expect(string literal, string path)
    {
        if (string.CompareOrdinal(_text, _pos, literal, 0, literal.Length) != 0)
        {
            throw Error(path, $"expected '{literal}'");
        }

        _pos += literal.Length;
    }

    private char Peek() => _pos < _text.Length ? _text[_pos] : '\0';

    private void SkipWhitespace()
    {
        while (_pos < _text.Length && _text[_pos] is ' ' or '\t' or '\n' or '\r')
        {
            _pos++;
        }
    }

    private InseqJsonException Error(string path, string reason)
    {
        int line = 1;
        for (int i = 0; i < Math.Min(_pos, _text.Length); i++)
        {
            if (_text[i] == '\n')
            {
                line++;
            }
        }

        return new InseqJsonException(_file, path, $"malformed JSON at line {line}: {reason}");
    }
}
