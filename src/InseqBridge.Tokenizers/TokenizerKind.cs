namespace InseqBridge.Tokenizers;

/// <summary>Which of a checkpoint folder's tokenizer files to load.</summary>
public enum TokenizerKind
{
    /// <summary>As <c>AutoTokenizer</c> does: the fast tokenizer (<c>tokenizer.json</c>) when the folder has one,
    /// else the slow files.</summary>
    Auto,

    /// <summary>The fast tokenizer (<c>tokenizer.json</c>), like <c>use_fast=True</c>.</summary>
    Fast,

    /// <summary>The slow tokenizer files (vocab.json + merges.txt, SentencePiece models), like
    /// <c>use_fast=False</c>; the Inseq 0.6 reference outputs were made this way.</summary>
    Slow,
}
