namespace InseqBridge.Tokenizers.Common;

/// <summary>A special token as declared in <c>tokenizer_config.json</c> / <c>special_tokens_map.json</c>.</summary>
/// <param name="Content">The token string.</param>
/// <param name="LStrip">Eats the whitespace on its left.</param>
/// <param name="RStrip">Eats the whitespace on its right.</param>
/// <param name="SingleWord">Only matches whole words.</param>
internal sealed record SpecialTokenDeclaration(string Content, bool LStrip = false, bool RStrip = false, bool SingleWord = false);
