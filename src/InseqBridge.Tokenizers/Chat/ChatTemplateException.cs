namespace InseqBridge.Tokenizers.Chat;

/// <summary>A chat template could not be found, parsed or rendered. The message names the problem and the fix.</summary>
public class ChatTemplateException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ChatTemplateException(string message, Exception? inner = null) : base(message, inner) { }
}
