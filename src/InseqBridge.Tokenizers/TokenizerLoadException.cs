namespace InseqBridge.Tokenizers;

/// <summary>A tokenizer folder is missing files or holds malformed ones. The message names the file and the fix.</summary>
public sealed class TokenizerLoadException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TokenizerLoadException(string message, Exception? inner = null) : base(message, inner) { }
}
