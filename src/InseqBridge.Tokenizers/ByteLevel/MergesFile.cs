namespace InseqBridge.Tokenizers.ByteLevel;

/// <summary>Reads a GPT-2 style <c>merges.txt</c>: an optional <c>#version</c> header, then one "left right" pair per line.</summary>
internal static class MergesFile
{
    /// <summary>Reads <paramref name="path"/>; a malformed line raises a <see cref="TokenizerLoadException"/> naming the file and line.</summary>
    public static List<(string Left, string Right)> Read(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerLoadException($"Cannot read '{path}': {e.Message}", e);
        }
        var merges = new List<(string, string)>(lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            // Python reads split("\n")[1:-1]: the first line is the header and blank lines carry no merge.
            if ((i == 0 && line.StartsWith("#version", StringComparison.Ordinal)) || line.Length == 0)
            {
                continue;
            }
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space <= 0 || space == line.Length - 1 || line.IndexOf(' ', space + 1) >= 0)
            {
                throw new TokenizerLoadException(
                    $"'{path}' line {i + 1} is not a merge of two space-separated symbols: '{line}'.");
            }
            merges.Add((line[..space], line[(space + 1)..]));
        }
        return merges;
    }
}
