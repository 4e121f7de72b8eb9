using InseqBridge.Datasets;
using InseqBridge.Errors;

namespace InseqBridge.Tests.Datasets;

public class DatasetReaderTests
{
    [Theory]
    [InlineData("data.jsonl", DatasetFormat.JsonLines)]
    [InlineData("data.NDJSON", DatasetFormat.JsonLines)]
    [InlineData("data.csv", DatasetFormat.Csv)]
    [InlineData("data.tsv", DatasetFormat.Tsv)]
    [InlineData("data.txt", DatasetFormat.PlainText)]
    [InlineData("data", DatasetFormat.PlainText)]
    public void Format_follows_the_extension(string path, DatasetFormat expected) =>
        Assert.Equal(expected, DatasetReader.DetectFormat(path));

    [Fact]
    public void Json_lines_report_bad_rows_by_line_and_keep_the_others()
    {
        string content = string.Join('\n',
            """{"text": "one two", "gen": "12"}""",
            "",
            """{"text": "three"}""",
            """{"text": "four" """,
            """["not", "an object"]""",
            """{"other": "x"}""",
            """{"text": 5}""",
            """{"text": "  "}""",
            """{"text": "nine", "gen": "9"}""");
        var rows = DatasetReader.Parse(content, DatasetFormat.JsonLines, "text", "gen");
        Assert.Equal([1, 3, 4, 5, 6, 7, 8, 9], rows.Select(r => r.Line));
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], rows.Select(r => r.Number));
        Assert.Equal(("one two", "12"), (rows[0].Text, rows[0].Generated));
        Assert.Contains("no \"gen\" field", rows[1].Error, StringComparison.Ordinal);
        Assert.Contains("invalid JSON", rows[2].Error, StringComparison.Ordinal);
        Assert.Contains("expected a JSON object", rows[3].Error, StringComparison.Ordinal);
        Assert.Contains("no \"text\" field", rows[4].Error, StringComparison.Ordinal);
        Assert.Contains("a number", rows[5].Error, StringComparison.Ordinal);
        Assert.Contains("empty", rows[6].Error, StringComparison.Ordinal);
        Assert.True(rows[7].IsValid);
        Assert.Equal("9", rows[7].Generated);
    }

    [Fact]
    public void Csv_handles_quotes_embedded_line_breaks_and_counts_lines()
    {
        string content = "id,text,target\r\n1,\"hello, world\",a\r\n2,\"two\nlines\",\"say \"\"hi\"\"\"\r\n\r\n3,only two\r\n4,\"open,x\n";
        var rows = DatasetReader.Parse(content, DatasetFormat.Csv, "text", "target");
        Assert.Equal(4, rows.Count);
        Assert.Equal(("hello, world", "a", 2), (rows[0].Text, rows[0].Generated, rows[0].Line));
        Assert.Equal(("two\nlines", "say \"hi\"", 3), (rows[1].Text, rows[1].Generated, rows[1].Line));
        Assert.Equal(6, rows[2].Line);
        Assert.Contains("2 fields, the header has 3", rows[2].Error, StringComparison.Ordinal);
        Assert.Equal(7, rows[3].Line);
        Assert.Contains("not closed", rows[3].Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Tsv_and_plain_text()
    {
        var tsv = DatasetReader.Parse("text\tlabel\nseven two\t72\n\t1\n", DatasetFormat.Tsv);
        Assert.Equal("seven two", tsv[0].Text);
        Assert.Contains("'text' is empty", tsv[1].Error, StringComparison.Ordinal);
        Assert.Equal(3, tsv[1].Line);

        var plain = DatasetReader.Parse("first line\n\n   \nthird, with comma\r\n", DatasetFormat.PlainText);
        Assert.Equal(["first line", "third, with comma"], plain.Select(r => r.Text));
        Assert.Equal([1, 4], plain.Select(r => r.Line));
    }

    [Fact]
    public void Whole_file_problems_are_errors()
    {
        Assert.Contains("no column 'text'", Assert.Throws<InvalidInputException>(() => DatasetReader.Parse("a,b\n1,2\n", DatasetFormat.Csv)).Message, StringComparison.Ordinal);
        Assert.Contains("no column 'gen'", Assert.Throws<InvalidInputException>(() => DatasetReader.Parse("text\n1\n", DatasetFormat.Csv, "text", "gen")).Message, StringComparison.Ordinal);
        Assert.Contains("--generated-column", Assert.Throws<InvalidInputException>(() => DatasetReader.Parse("x\n", DatasetFormat.PlainText, "text", "gen")).Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", Assert.Throws<InvalidInputException>(() => DatasetReader.Read("/nonexistent/data.jsonl")).Message, StringComparison.Ordinal);
    }
}
