using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InseqBridge.Serialization;

/// <summary>
/// Writes a JSON tree exactly like Python's <c>json.dumps(obj, indent=4, sort_keys=True, allow_nan=True)</c>
/// (with the default <c>ensure_ascii=True</c>), so files written here are byte-identical to Inseq's.
/// </summary>
internal static class PythonJsonWriter
{
    public static string Write(JsonNode? node, bool sortKeys = true)
    {
        var sb = new StringBuilder();
        WriteNode(sb, node, 0, sortKeys);
        return sb.ToString();
    }

    private static void WriteNode(StringBuilder sb, JsonNode? node, int depth, bool sortKeys = true)
    {
        switch (node)
        {
            case null:
                sb.Append("null");
                break;
            case JsonObject obj:
                WriteObject(sb, obj, depth, sortKeys);
                break;
            case JsonArray array:
                WriteArray(sb, array, depth, sortKeys);
                break;
            case JsonValue value:
                WriteValue(sb, value);
                break;
            default:
                throw new InvalidOperationException($"Unexpected JSON node {node.GetType()}.");
        }
    }

    private static void WriteObject(StringBuilder sb, JsonObject obj, int depth, bool sortKeys)
    {
        if (obj.Count == 0)
        {
            sb.Append("{}");
            return;
        }

        sb.Append('{');
        bool first = true;
        IEnumerable<KeyValuePair<string, JsonNode?>> entries = sortKeys ? obj.OrderBy(p => p.Key, StringComparer.Ordinal) : obj;
        foreach (var (key, value) in entries)
        {
            sb.Append(first ? "\n" : ",\n");
            first = false;
            Indent(sb, depth + 1);
            WriteString(sb, key);
            sb.Append(": ");
            WriteNode(sb, value, depth + 1, sortKeys);
        }

        sb.Append('\n');
        Indent(sb, depth);
        sb.Append('}');
    }

    private static void WriteArray(StringBuilder sb, JsonArray array, int depth, bool sortKeys)
    {
        if (array.Count == 0)
        {
            sb.Append("[]");
            return;
        }

        sb.Append('[');
        for (int i = 0; i < array.Count; i++)
        {
            sb.Append(i == 0 ? "\n" : ",\n");
            Indent(sb, depth + 1);
            WriteNode(sb, array[i], depth + 1, sortKeys);
        }

        sb.Append('\n');
        Indent(sb, depth);
        sb.Append(']');
    }

    private static void WriteValue(StringBuilder sb, JsonValue value)
    {
        if (value.TryGetValue(out JsonElement element))
        {
            WriteElement(sb, element);
            return;
        }

        if (value.TryGetValue(out string? s))
        {
            WriteString(sb, s);
        }
        else if (value.TryGetValue(out bool b))
        {
            sb.Append(b ? "true" : "false");
        }
        else if (value.TryGetValue(out long l))
        {
            sb.Append(l.ToString(CultureInfo.InvariantCulture));
        }
        else if (value.TryGetValue(out int i))
        {
            sb.Append(i.ToString(CultureInfo.InvariantCulture));
        }
        else if (value.TryGetValue(out double d))
        {
            sb.Append(PythonFloatFormatter.Format(d));
        }
        else if (value.TryGetValue(out float f))
        {
            sb.Append(PythonFloatFormatter.Format(f));
        }
        else if (value.TryGetValue(out decimal m))
        {
            sb.Append(PythonFloatFormatter.Format((double)m));
        }
        else
        {
            // Other primitives (uint, short, ...) via their JSON text.
            WriteElement(sb, JsonSerializer.SerializeToElement(value));
        }
    }

    private static void WriteElement(StringBuilder sb, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                WriteString(sb, element.GetString()!);
                break;
            case JsonValueKind.Number:
                string raw = element.GetRawText();
                if (element.TryGetInt64(out long l) && raw.IndexOfAny(['.', 'e', 'E']) < 0)
                {
                    sb.Append(l.ToString(CultureInfo.InvariantCulture));
                }
                else
                {
                    sb.Append(PythonFloatFormatter.Format(element.GetDouble()));
                }

                break;
            case JsonValueKind.True:
                sb.Append("true");
                break;
            case JsonValueKind.False:
                sb.Append("false");
                break;
            case JsonValueKind.Null:
            case JsonValueKind.Undefined:
                sb.Append("null");
                break;
            default:
                // Objects/arrays wrapped in a JsonValue: convert and write as nodes.
                WriteNode(sb, JsonNode.Parse(element.GetRawText()), 0);
                break;
        }
    }

    /// <summary>Python's <c>ensure_ascii</c> string encoding: ASCII kept, everything else as lower-case
    /// <c>\uXXXX</c> UTF-16 escapes.</summary>
    internal static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20 || c > 0x7E)
                    {
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        sb.Append('"');
    }

    private static void Indent(StringBuilder sb, int depth) => sb.Append(' ', depth * 4);
}
