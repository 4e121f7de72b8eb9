namespace InseqBridge.Data;

/// <summary>A token as Inseq shows it (raw tokenizer piece, e.g. <c>Ġworld</c>) with its vocabulary id.
/// Id -1 marks tokens that stand for two ids (contrastive "contrast → original").</summary>
/// <param name="Token">The token string.</param>
/// <param name="Id">The vocabulary id.</param>
public sealed record TokenWithId(string Token, int Id)
{
    /// <inheritdoc />
    public override string ToString() => Token;
}
