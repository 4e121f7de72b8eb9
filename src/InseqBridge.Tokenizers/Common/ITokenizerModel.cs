namespace InseqBridge.Tokenizers.Common;

/// <summary>
/// The class-specific half of a Hugging Face slow tokenizer (what <c>GPT2Tokenizer</c>, <c>MarianTokenizer</c>, ...
/// override); <see cref="SlowTokenizer"/> supplies the shared <c>PreTrainedTokenizer</c> logic around it.
/// </summary>
internal interface ITokenizerModel
{
    /// <summary>The Hugging Face class name.</summary>
    string TokenizerClass { get; }

    /// <summary>Python's <c>vocab_size</c> (model vocabulary without added tokens).</summary>
    int VocabSize { get; }

    /// <summary>The special-token defaults of the class's <c>__init__</c> (attribute → token), used when the files name none.</summary>
    IReadOnlyDictionary<string, string> SpecialTokenDefaults { get; }

    /// <summary>True when the model vocabulary (<c>get_vocab()</c> without added tokens) has <paramref name="token"/>.</summary>
    bool ContainsToken(string token);

    /// <summary>Number of distinct tokens in the model vocabulary (<c>get_vocab()</c> without added tokens).</summary>
    int DistinctTokenCount { get; }

    /// <summary><c>prepare_for_tokenization</c>: adjusts the text before added tokens are split out.</summary>
    string PrepareForTokenization(string text);

    /// <summary><c>_tokenize</c>: appends the pieces of a text that holds no added token.</summary>
    void Tokenize(string text, bool asTarget, List<string> output);

    /// <summary>The model id of <paramref name="token"/>, or null when the model does not know it.</summary>
    int? TryTokenToId(string token);

    /// <summary><c>_convert_id_to_token</c>, or null when the id is outside the model vocabulary.</summary>
    string? IdToToken(int id);

    /// <summary><c>convert_tokens_to_string</c>.</summary>
    string TokensToString(List<string> tokens, SlowTokenizer owner);

    /// <summary>
    /// True when the class overrides <c>_decode</c> so that <see cref="TokensToString"/> receives every kept token, added
    /// ones included, and its result is the decoded text (GemmaTokenizer); false for the base <c>_decode</c>, which keeps
    /// non-special added tokens apart and joins the pieces with spaces.
    /// </summary>
    bool DecodesAllTokens => false;

    /// <summary>The class's default of <c>clean_up_tokenization_spaces</c> when tokenizer_config.json does not set it.</summary>
    bool CleanUpTokenizationSpacesDefault => true;

    /// <summary><c>build_inputs_with_special_tokens</c> for one sequence.</summary>
    List<int> BuildInputsWithSpecialTokens(List<int> ids, SlowTokenizer owner);

    /// <summary>
    /// <c>build_inputs_with_special_tokens</c> for one sequence, in input or target mode (<c>text_target=</c>): classes
    /// whose special tokens depend on the side (M2M100's language codes) override it.
    /// </summary>
    List<int> BuildInputsWithSpecialTokens(List<int> ids, SlowTokenizer owner, bool asTarget) =>
        BuildInputsWithSpecialTokens(ids, owner);
}
