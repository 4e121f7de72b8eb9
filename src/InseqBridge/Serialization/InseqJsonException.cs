using InseqBridge.Errors;

namespace InseqBridge.Serialization;

/// <summary>Raised when an Inseq JSON file cannot be read: malformed JSON, bad base64, unknown classes or
/// tensors whose shapes do not fit. The message names the file and the JSON path of the offending value.</summary>
public sealed class InseqJsonException : InseqBridgeException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="filePath">The file being read (null when reading from memory).</param>
    /// <param name="jsonPath">The JSON path of the value at fault (e.g. <c>$.attributes.info</c>).</param>
    /// <param name="reason">What is wrong.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public InseqJsonException(string? filePath, string jsonPath, string reason, Exception? inner = null)
        : base($"{filePath ?? "<memory>"}: {jsonPath}: {reason}", inner)
    {
        FilePath = filePath;
        JsonPath = jsonPath;
    }

    /// <summary>The file being read, or null for in-memory text.</summary>
    public string? FilePath { get; }

    /// <summary>The JSON path of the value at fault.</summary>
    public string JsonPath { get; }
}
