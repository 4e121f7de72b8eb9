namespace InseqBridge.Tokenizers.Common;

/// <summary>
/// A token that is cut out of the text before the model sees it (Hugging Face <c>AddedToken</c>).
/// </summary>
/// <param name="Content">The exact string that is matched in the text.</param>
/// <param name="Id">Its id.</param>
/// <param name="Special">Whether Hugging Face marks it as special.</param>
/// <param name="LStrip">Eats the whitespace on its left.</param>
/// <param name="RStrip">Eats the whitespace on its right.</param>
/// <param name="SingleWord">Only matches a whole word (glued to its neighbours otherwise).</param>
internal sealed record AddedToken(string Content, int Id, bool Special, bool LStrip, bool RStrip, bool SingleWord);
