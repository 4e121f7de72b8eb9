using System.Text;
using System.Text.Json;
using InseqBridge.Errors;

namespace InseqBridge.Datasets;

/// <summary>The file formats <see cref="DatasetReader"/> reads.</summary>
public enum DatasetFormat
{
    /// <summary>One JSON object per line (<c>.jsonl</c>, <c>.ndjson</c>).</summary>
    JsonLines,

    /// <summary>Comma-separated values with a header row (<c>.csv</c>, RFC 4180 quoting).</summary>
    Csv,

    /// <summary>Tab-separated values with a header row (<c>.tsv</c>, <c>.tab</c>).</summary>
    Tsv,

    /// <summary>One input text per non-blank line (any other extension, e.g. <c>.txt</c>).</summary>
    PlainText,
}

/// <summary>
/// One example of a dataset. A row that cannot be used carries an <see cref="Error"/> instead of a text; it keeps
/// its index, so outputs of the other rows do not move.
/// </summary>
/// <param name="Number">1-based number of the example among the data rows (bad rows included).</param>
/// <param name="Line">1-based line of the file where the row starts.</param>
/// <param name="Text">The input text, or null for a bad row.</param>
/// <param name="Generated">The forced output text (from the generated column), or null.</param>
/// <param name="Error">Why the row is bad, or null.</param>
public sealed record DatasetRow(int Number, int Line, string? Text, string? Generated, string? Error)
{
    /// <summary>True when the row can be attributed.</summary>
    public bool IsValid => Error is null;
}

/// <summary>
/// Reads attribution datasets: JSONL, CSV, TSV or plain text. Problems of single rows (invalid JSON, a missing or
/// empty text, a wrong number of fields) become <see cref="DatasetRow.Error"/>s naming the line; problems of the
/// whole file (missing, or a header without the text column) raise <see cref="InvalidInputException"/>.
/// </summary>
public static class DatasetReader
{
    /// <summary>The format implied by the file extension (<c>.jsonl</c>/<c>.ndjson</c>, <c>.csv</c>,
    /// <c>.tsv</c>/<c>.tab</c>; anything else is plain text).</summary>
    public static DatasetFormat DetectFormat(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".jsonl" or ".ndjson" => DatasetFormat.JsonLines,
            ".csv" => DatasetFormat.Csv,
            ".tsv" or ".tab" => DatasetFormat.Tsv,
            _ => DatasetFormat.PlainText,
        };
    }

    /// <summary>Reads every row of <paramref name="path"/>.</summary>
    /// <param name="path">The dataset file (UTF-8).</param>
    /// <param name="textColumn">Column (JSON key) holding the input text; ignored for plain text.</param>
    /// <param name="generatedColumn">Column holding forced output texts, or null to generate.</param>
    /// <param name="format">The format, or null to detect it from the extension.</param>
    /// <exception cref="InvalidInputException">The file is missing, or its header lacks a requested column, or a
    /// generated column is asked of a plain-text file.</exception>
    public static IReadOnlyList<DatasetRow> Read(string path, string textColumn = "text", string? generatedColumn = null, DatasetFormat? format = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(textColumn);
        if (!File.Exists(path))
        {
            throw new InvalidInputException($"Dataset file '{path}' does not exist.");
        }

        string content = File.ReadAllText(path, Encoding.UTF8);
        return Parse(content, format ?? DetectFormat(path), textColumn, generatedColumn, path);
    }

    /// <summary>Parses dataset text already in memory (see <see cref="Read"/>).</summary>
    /// <param name="content">The file content.</param>
    /// <param name="format">Its format.</param>
    /// <param name="textColumn">Column (JSON key) holding the input text.</param>
    /// <param name="generatedColumn">Column holding forced output texts, or null.</param>
    /// <param name="sourceName">Name used in error messages.</param>
    /// <exception cref="InvalidInputException">See <see cref="Read"/>.</exception>
    public static IReadOnlyList<DatasetRow> Parse(string content, DatasetFormat format, string textColumn = "text", string? generatedColumn = null, string sourceName = "dataset")
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(textColumn);
        if (content.Length > 0 && content[0] == '\uFEFF')
        {
            content = content[1..];
        }

        return format switch
        {
            DatasetFormat.JsonLines => ParseJsonLines(content, textColumn, generatedColumn),
            DatasetFormat.Csv => ParseDelimited(content, ',', textColumn, generatedColumn, sourceName),
            DatasetFormat.Tsv => ParseDelimited(content, '\t', textColumn, generatedColumn, sourceName),
            _ => ParsePlainText(content, generatedColumn, sourceName),
        };
    }

    private static List<DatasetRow> ParsePlainText(string content, string? generatedColumn, string sourceName)
    {
        if (generatedColumn is not null)
        {
            throw new InvalidInputException($"{sourceName} is plain text (one input per line): it has no columns, so --generated-column cannot be used. Use JSONL, CSV or TSV.");
        }

        var rows = new List<DatasetRow>();
        string[] lines = SplitLines(content);
        for (int i = 0; i < lines.Length; i++)
        {
            if (!string.IsNullOrWhiteSpace(lines[i]))
            {
                rows.Add(new DatasetRow(rows.Count + 1, i + 1, lines[i], null, null));
            }
        }

        return rows;
    }

    private static List<DatasetRow> ParseJsonLines(string content, string textColumn, string? generatedColumn)
    {
        var rows = new List<DatasetRow>();
        string[] lines = SplitLines(content);
        for (int i = 0; i < lines.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i]))
            {
                continue;
            }

            int number = rows.Count + 1, line = i + 1;
            try
            {
                using JsonDocument document = JsonDocument.Parse(lines[i]);
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    rows.Add(Bad(number, line, $"expected a JSON object, found {Describe(document.RootElement.ValueKind)}"));
                    continue;
                }

                string? error = null;
                string? text = Field(document.RootElement, textColumn, required: true, ref error);
                string? generated = generatedColumn is null ? null : Field(document.RootElement, generatedColumn, required: true, ref error);
                rows.Add(error is null ? new DatasetRow(number, line, text, generated, null) : Bad(number, line, error));
            }
            catch (JsonException e)
            {
                rows.Add(Bad(number, line, $"invalid JSON ({FirstSentence(e.Message)})"));
            }
        }

        return rows;
    }

    private static string? Field(JsonElement row, string key, bool required, ref string? error)
    {
        if (error is not null)
        {
            return null;
        }

        if (!row.TryGetProperty(key, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                // Name the keys the row has and the flag that picks another one.
                string keys = string.Join(", ", row.EnumerateObject().Select(p => p.Name).Take(10));
                error = $"no \"{key}\" field (the row has: {(keys.Length == 0 ? "no fields" : keys)}); name the input field with --text-column (forced outputs: --generated-column)";
            }

            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            error = $"\"{key}\" is {Describe(value.ValueKind)}, expected a string";
            return null;
        }

        string text = value.GetString()!;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = $"\"{key}\" is empty";
            return null;
        }

        return text;
    }

    private static List<DatasetRow> ParseDelimited(string content, char delimiter, string textColumn, string? generatedColumn, string sourceName)
    {
        var records = ReadRecords(content, delimiter);
        var rows = new List<DatasetRow>();
        if (records.Count == 0)
        {
            return rows;
        }

        (int headerLine, List<string>? header, string? headerError) = records[0];
        if (header is null)
        {
            throw new InvalidInputException($"{sourceName}, line {headerLine}: the header row is malformed ({headerError}).");
        }

        int textIndex = header.IndexOf(textColumn);
        if (textIndex < 0)
        {
            throw new InvalidInputException($"{sourceName} has no column '{textColumn}' (columns: {string.Join(", ", header)}). Name the input column with --text-column.");
        }

        int generatedIndex = -1;
        if (generatedColumn is not null && (generatedIndex = header.IndexOf(generatedColumn)) < 0)
        {
            throw new InvalidInputException($"{sourceName} has no column '{generatedColumn}' (columns: {string.Join(", ", header)}).");
        }

        foreach ((int line, List<string>? fields, string? error) in records.Skip(1))
        {
            int number = rows.Count + 1;
            if (fields is null)
            {
                rows.Add(Bad(number, line, error!));
            }
            else if (fields.Count != header.Count)
            {
                rows.Add(Bad(number, line, $"{fields.Count} fields, the header has {header.Count}"));
            }
            else if (string.IsNullOrWhiteSpace(fields[textIndex]))
            {
                rows.Add(Bad(number, line, $"column '{textColumn}' is empty"));
            }
            else if (generatedIndex >= 0 && string.IsNullOrWhiteSpace(fields[generatedIndex]))
            {
                rows.Add(Bad(number, line, $"column '{generatedColumn}' is empty"));
            }
            else
            {
                rows.Add(new DatasetRow(number, line, fields[textIndex], generatedIndex >= 0 ? fields[generatedIndex] : null, null));
            }
        }

        return rows;
    }

    /// <summary>Splits delimited text into records (RFC 4180: quoted fields may hold delimiters, doubled quotes and
    /// line breaks). Blank lines are skipped. Each record keeps the line it starts on, or an error.</summary>
    private static List<(int Line, List<string>? Fields, string? Error)> ReadRecords(string content, char delimiter)
    {
        var records = new List<(int, List<string>?, string?)>();
        int i = 0, line = 1;
        while (i < content.Length)
        {
            if (content[i] is '\r' or '\n')
            {
                line += SkipLineBreak(content, ref i);
                continue;
            }

            int startLine = line;
            var fields = new List<string>();
            var field = new StringBuilder();
            string? error = null;
            bool quoted = false, fieldStart = true, afterQuote = false;
            while (i < content.Length)
            {
                char c = content[i];
                if (quoted)
                {
                    if (c == '"')
                    {
                        if (i + 1 < content.Length && content[i + 1] == '"')
                        {
                            field.Append('"');
                            i += 2;
                            continue;
                        }

                        quoted = false;
                        afterQuote = true;
                        i++;
                        continue;
                    }

                    if (c is '\r' or '\n')
                    {
                        int before = i;
                        line += SkipLineBreak(content, ref i);
                        field.Append(content, before, i - before);
                        continue;
                    }

                    field.Append(c);
                    i++;
                    continue;
                }

                if (c == delimiter)
                {
                    fields.Add(field.ToString());
                    field.Clear();
                    fieldStart = true;
                    afterQuote = false;
                    i++;
                    continue;
                }

                if (c is '\r' or '\n')
                {
                    break;
                }

                if (c == '"' && fieldStart)
                {
                    quoted = true;
                    fieldStart = false;
                    i++;
                    continue;
                }

                if (afterQuote)
                {
                    error ??= "text after a closing quote";
                }

                fieldStart = false;
                field.Append(c);
                i++;
            }

            if (quoted)
            {
                error = "a quoted field is not closed before the end of the file";
            }

            fields.Add(field.ToString());
            records.Add((startLine, error is null ? fields : null, error));
            if (i < content.Length)
            {
                line += SkipLineBreak(content, ref i);
            }
        }

        return records;
    }

    private static int SkipLineBreak(string content, ref int i)
    {
        if (content[i] == '\r' && i + 1 < content.Length && content[i + 1] == '\n')
        {
            i += 2;
        }
        else
        {
            i++;
        }

        return 1;
    }

    private static string[] SplitLines(string content) =>
        content.Split('\n').Select(l => l.EndsWith('\r') ? l[..^1] : l).ToArray();

    private static DatasetRow Bad(int number, int line, string error) => new(number, line, null, null, error);

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        JsonValueKind.Object => "an object",
        _ => "a string",
    };

    private static string FirstSentence(string message)
    {
        int end = message.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? message.TrimEnd('.') : message[..end];
    }
}
