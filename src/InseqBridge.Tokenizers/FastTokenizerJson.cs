using InseqBridge.Tokenizers.Common;

namespace InseqBridge.Tokenizers;

/// <summary>Loader for Hugging Face's fast-tokenizer format (<c>tokenizer.json</c>).</summary>
internal static class FastTokenizerJson
{
    /// <summary>Loads <c>tokenizer.json</c> of <paramref name="folder"/>.</summary>
    public static IHfTokenizer Load(TokenizerFolder folder) =>
        throw new TokenizerLoadException(
            $"'{folder.PathOf("tokenizer.json")}' (fast tokenizer format) is not supported yet; save the tokenizer " +
            "with use_fast=False (vocab.json + merges.txt, or the .spm/.model files).");
}
