namespace InseqBridge.Serialization;

/// <summary>Raised when saving would replace an existing file and <see cref="SaveOptions.Overwrite"/> is false
/// (Inseq refuses the same way).</summary>
public sealed class OutputFileExistsException : IOException
{
    /// <summary>Creates the exception for <paramref name="path"/>.</summary>
    public OutputFileExistsException(string path)
        : base($"{path} already exists. Save with Overwrite = true to replace it.")
    {
        Path = path;
    }

    /// <summary>The file that already exists.</summary>
    public string Path { get; }
}
