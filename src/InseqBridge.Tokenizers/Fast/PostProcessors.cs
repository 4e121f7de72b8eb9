namespace InseqBridge.Tokenizers.Fast;

/// <summary>A <c>post_processor</c> of <c>tokenizer.json</c>, for single sequences.</summary>
internal abstract class PostProcessor
{
    /// <summary>Adds the special tokens around one encoded sequence (only called when special tokens are wanted).</summary>
    public abstract List<FastToken> Process(List<FastToken> tokens);
}

internal sealed class IdentityPostProcessor : PostProcessor
{
    public override List<FastToken> Process(List<FastToken> tokens) => tokens;
}

internal sealed class WrapPostProcessor(FastToken cls, FastToken sep) : PostProcessor
{
    public override List<FastToken> Process(List<FastToken> tokens) => [cls, .. tokens, sep];
}

/// <summary><c>TemplateProcessing</c>: each item is either the sequence (null) or the tokens of a special token.</summary>
internal sealed class TemplatePostProcessor(IReadOnlyList<FastToken[]?> single) : PostProcessor
{
    public IReadOnlyList<FastToken[]?> Single => single;

    public override List<FastToken> Process(List<FastToken> tokens)
    {
        var result = new List<FastToken>(tokens.Count + single.Count);
        foreach (var part in single)
        {
            result.AddRange(part ?? (IEnumerable<FastToken>)tokens);
        }
        return result;
    }
}

internal sealed class SequencePostProcessor(IReadOnlyList<PostProcessor> parts) : PostProcessor
{
    public override List<FastToken> Process(List<FastToken> tokens)
    {
        foreach (var part in parts)
        {
            tokens = part.Process(tokens);
        }
        return tokens;
    }
}
