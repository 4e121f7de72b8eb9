namespace InseqBridge.Attribution.Context;

/// <summary>
/// What context attribution needs from a model besides <see cref="IAttributionModel.AttributeAsync"/>: its
/// tokenizer's token strings and greedy generation with the special tokens kept (Inseq's
/// <c>convert_string_to_tokens</c>, <c>convert_tokens_to_string</c> and <c>generate</c>).
/// </summary>
public interface IContextAttributionModel : IAttributionModel
{
    /// <summary>Inseq's <c>bos_token</c> (the decoder start token for encoder-decoders).</summary>
    string BosToken { get; }

    /// <summary>Inseq's <c>pad_token</c>.</summary>
    string PadToken { get; }

    /// <summary>True when <paramref name="token"/> is one of the tokenizer's special tokens.</summary>
    bool IsSpecialToken(string token);

    /// <summary>Token strings of <paramref name="text"/> with the model's special tokens added
    /// (<c>convert_string_to_tokens(text, skip_special_tokens=False, as_targets=...)</c>).</summary>
    IReadOnlyList<string> ConvertStringToTokens(string text, bool asTarget);

    /// <summary>Text of token strings (<c>convert_tokens_to_string</c>); special tokens are dropped when asked.</summary>
    string ConvertTokensToString(IReadOnlyList<string> tokens, bool skipSpecialTokens);

    /// <summary>
    /// Generates from <paramref name="input"/> and decodes with special tokens kept and no clean-up
    /// (<c>model.generate(input, skip_special_tokens=False, ...)</c>).
    /// </summary>
    /// <param name="input">Prompt (decoder-only) or source text (encoder-decoder).</param>
    /// <param name="generation">Generation arguments.</param>
    /// <param name="decoderPrefix">Encoder-decoders: target text forced as the decoder prefix, after the decoder start
    /// token (<c>decoder_input_ids</c>); null: none.</param>
    /// <param name="prefixSpecialTokens">Encode <paramref name="decoderPrefix"/> with the tokenizer's special tokens
    /// (a trailing end-of-sequence token is dropped).</param>
    /// <param name="outputGeneratedOnly">Decoder-only: return only the new tokens' text.</param>
    /// <param name="cancellationToken">Cancels between tokens.</param>
    string Generate(string input, GenerationArguments generation, string? decoderPrefix, bool prefixSpecialTokens, bool outputGeneratedOnly, CancellationToken cancellationToken);
}
