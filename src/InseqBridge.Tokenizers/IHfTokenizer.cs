namespace InseqBridge.Tokenizers;

/// <summary>
/// A tokenizer that behaves like the Hugging Face tokenizer saved in a checkpoint folder (the fast one from
/// <c>tokenizer.json</c>, or a slow class): same ids, same token strings (raw pieces such as <c>Ġworld</c> or
/// <c>▁world</c>), same decoding.
/// Instances are immutable and safe to use from several threads.
/// </summary>
public interface IHfTokenizer
{
    /// <summary>Name of the Hugging Face class this tokenizer reproduces (e.g. <c>GPT2Tokenizer</c>).</summary>
    string TokenizerClass { get; }

    /// <summary>Number of tokens including added tokens (Python's <c>len(tokenizer)</c>).</summary>
    int Count { get; }

    /// <summary>Special tokens and their ids.</summary>
    SpecialTokens Special { get; }

    /// <summary>
    /// Encodes <paramref name="text"/> like <c>tokenizer(text)["input_ids"]</c>.
    /// </summary>
    /// <param name="text">Text to encode.</param>
    /// <param name="addSpecialTokens">Add the model's special tokens (e.g. BART's <c>&lt;s&gt;</c>/<c>&lt;/s&gt;</c>, Marian's <c>&lt;/s&gt;</c>).</param>
    /// <param name="asTarget">Encode as a target text (<c>text_target=</c>); differs for Marian (target.spm).</param>
    IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true, bool asTarget = false);

    /// <summary><c>tokenizer.tokenize(text)</c>: pieces without special tokens.</summary>
    IReadOnlyList<string> Tokenize(string text, bool asTarget = false);

    /// <summary><c>convert_ids_to_tokens</c>: the raw piece of each id.</summary>
    IReadOnlyList<string> ConvertIdsToTokens(IEnumerable<int> ids);

    /// <summary>The raw piece of one id, or <c>null</c> when the id is out of range.</summary>
    string? IdToToken(int id);

    /// <summary>The id of a raw piece, or <c>null</c> when unknown.</summary>
    int? TokenToId(string token);

    /// <summary><c>tokenizer.decode(ids, skip_special_tokens=..., clean_up_tokenization_spaces=...)</c>;
    /// <paramref name="cleanUpTokenizationSpaces"/> null uses the tokenizer's saved setting.</summary>
    string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false, bool? cleanUpTokenizationSpaces = null);

    /// <summary>True when <paramref name="id"/> is one of the special tokens (<c>all_special_ids</c>).</summary>
    bool IsSpecial(int id);

    /// <summary>
    /// Encodes <paramref name="text"/> and returns the ids with their token strings, as the fast tokenizer's
    /// <c>encoding.tokens</c> has them (for slow tokenizers: <see cref="ConvertIdsToTokens"/> of the ids).
    /// </summary>
    /// <param name="text">Text to encode.</param>
    /// <param name="addSpecialTokens">Add the model's special tokens.</param>
    EncodedTokens EncodeWithTokens(string text, bool addSpecialTokens = true)
    {
        var ids = Encode(text, addSpecialTokens);
        return new EncodedTokens(ids, ConvertIdsToTokens(ids));
    }
}

/// <summary>Ids with their token strings.</summary>
/// <param name="Ids">The token ids.</param>
/// <param name="Tokens">The token strings, one per id.</param>
public sealed record EncodedTokens(IReadOnlyList<int> Ids, IReadOnlyList<string> Tokens);

/// <summary>The special tokens of a tokenizer (null where the tokenizer has none).</summary>
/// <param name="Bos">Beginning of sequence token and id.</param>
/// <param name="Eos">End of sequence token and id.</param>
/// <param name="Unk">Unknown token and id.</param>
/// <param name="Pad">Padding token and id.</param>
/// <param name="AllSpecialIds">Every special id (<c>all_special_ids</c>).</param>
public sealed record SpecialTokens(
    TokenAndId? Bos,
    TokenAndId? Eos,
    TokenAndId? Unk,
    TokenAndId? Pad,
    IReadOnlyList<int> AllSpecialIds);

/// <summary>A token string with its id.</summary>
/// <param name="Token">The raw token string.</param>
/// <param name="Id">Its id.</param>
public sealed record TokenAndId(string Token, int Id);
