using System.Text;
using InseqBridge.Serialization;

namespace InseqBridge.Visualization;

/// <summary>Writes rendered text files, refusing to replace an existing file unless asked to.</summary>
public static class OutputFile
{
    /// <summary>Writes <paramref name="text"/> as UTF-8 without a byte order mark.</summary>
    /// <exception cref="OutputFileExistsException">The file exists and <paramref name="overwrite"/> is false.</exception>
    public static void WriteAllText(string path, string text, bool overwrite)
    {
        if (!overwrite && File.Exists(path))
        {
            throw new OutputFileExistsException(path);
        }

        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        using var stream = new FileStream(path, overwrite ? FileMode.Create : FileMode.CreateNew, FileAccess.Write);
        using var writer = new StreamWriter(stream, new UTF8Encoding(false));
        writer.Write(text);
    }
}
