using System.Globalization;
using System.Text;
using InseqBridge.Tokenizers.Common;
using InseqBridge.Tokenizers.SentencePiece;

namespace InseqBridge.Tokenizers.Models;

/// <summary>
/// <c>GemmaTokenizer</c> (the slow class): SentencePiece over <c>tokenizer.model</c> with no prefix space added by the
/// tokenizer (whatever the model's normalizer does is kept), unknown pieces broken into <c>&lt;0xAB&gt;</c> byte
/// pieces when the model has byte fallback, <c>&lt;bos&gt;</c> prepended (<c>add_bos_token</c>) and
/// <c>&lt;eos&gt;</c> appended (<c>add_eos_token</c>). Decoding hands each run of model pieces to SentencePiece's
/// own decoder (byte pieces joined into UTF-8, the first space dropped only when the model adds a dummy prefix or
/// removes extra whitespace) and writes added tokens as they are, with no space between them.
/// </summary>
internal sealed class GemmaTokenizerModel : ITokenizerModel
{
    private const string SpaceSymbol = "\u2581";

    private static readonly Dictionary<string, string> Defaults = new()
    {
        ["bos_token"] = "<bos>",
        ["eos_token"] = "<eos>",
        ["unk_token"] = "<unk>",
        ["pad_token"] = "<pad>",
    };

    private readonly SentencePieceProcessor _processor;
    private readonly int _distinctPieces;
    private readonly bool _addBos;
    private readonly bool _addEos;
    private readonly Dictionary<int, string> _bytePieces = [];

    private GemmaTokenizerModel(SentencePieceProcessor processor, bool addBos, bool addEos)
    {
        _processor = processor;
        _addBos = addBos;
        _addEos = addEos;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var piece in processor.Vocabulary.Model.Pieces)
        {
            seen.Add(piece.Piece);
        }
        _distinctPieces = seen.Count;
        for (int b = 0; b < 256; b++)
        {
            _bytePieces[b] = string.Create(CultureInfo.InvariantCulture, $"<0x{b:X2}>");
        }
    }

    /// <summary>Loads the Gemma tokenizer of <paramref name="folder"/> (<c>tokenizer.model</c>).</summary>
    public static SlowTokenizer CreateTokenizer(TokenizerFolder folder)
    {
        var processor = SentencePieceProcessor.Load(folder.PathOf("tokenizer.model"));
        if (processor.Vocabulary.Model.ByteFallback)
        {
            for (int b = 0; b < 256; b++)
            {
                string piece = string.Create(CultureInfo.InvariantCulture, $"<0x{b:X2}>");
                if (!processor.Vocabulary.Contains(piece))
                {
                    throw new TokenizerLoadException(
                        $"'{folder.PathOf("tokenizer.model")}' sets byte_fallback but lacks the byte piece {piece}.");
                }
            }
        }
        var model = new GemmaTokenizerModel(processor, folder.GetBool("add_bos_token", true), folder.GetBool("add_eos_token", false));
        return new SlowTokenizer(model, folder);
    }

    /// <inheritdoc />
    public string TokenizerClass => "GemmaTokenizer";

    /// <inheritdoc />
    public int VocabSize => _processor.Vocabulary.Count;

    /// <inheritdoc />
    public int DistinctTokenCount => _distinctPieces;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> SpecialTokenDefaults => Defaults;

    /// <inheritdoc />
    public bool ContainsToken(string token) => _processor.Vocabulary.Contains(token);

    /// <inheritdoc />
    public string PrepareForTokenization(string text) => text;

    /// <inheritdoc />
    public bool DecodesAllTokens => true;

    /// <inheritdoc />
    public bool CleanUpTokenizationSpacesDefault => false;

    /// <inheritdoc />
    public void Tokenize(string text, bool asTarget, List<string> output)
    {
        bool byteFallback = _processor.Vocabulary.Model.ByteFallback;
        foreach (var piece in _processor.EncodeAsPieces(text))
        {
            // A run of unknown characters (one merged piece) becomes the UTF-8 bytes of its text, as
            // SentencePiece's byte fallback does piece by piece.
            if (byteFallback && !_processor.Vocabulary.Contains(piece))
            {
                foreach (byte b in Encoding.UTF8.GetBytes(piece))
                {
                    output.Add(_bytePieces[b]);
                }
            }
            else
            {
                output.Add(piece);
            }
        }
    }

    /// <inheritdoc />
    public int? TryTokenToId(string token) =>
        _processor.Vocabulary.Contains(token) ? _processor.Vocabulary.PieceToId(token) : null;

    /// <inheritdoc />
    public string? IdToToken(int id) => _processor.Vocabulary.IdToPiece(id);

    /// <inheritdoc />
    public string TokensToString(List<string> tokens, SlowTokenizer owner)
    {
        // GemmaTokenizer._decode: added tokens verbatim, each run of other tokens through sp_model.decode.
        var text = new StringBuilder();
        var run = new List<string>();
        foreach (var token in tokens)
        {
            if (owner.IsAddedToken(token))
            {
                text.Append(DecodePieces(run)).Append(token);
                run.Clear();
            }
            else
            {
                run.Add(token);
            }
        }
        return text.Append(DecodePieces(run)).ToString();
    }

    /// <inheritdoc />
    public List<int> BuildInputsWithSpecialTokens(List<int> ids, SlowTokenizer owner)
    {
        var result = new List<int>(ids.Count + 2);
        if (_addBos && owner.Special.Bos is { } bos)
        {
            result.Add(bos.Id);
        }
        result.AddRange(ids);
        if (_addEos && owner.Special.Eos is { } eos)
        {
            result.Add(eos.Id);
        }
        return result;
    }

    /// <summary>
    /// <c>SentencePieceProcessor.Decode</c> (0.1.97): control pieces vanish, the unknown piece prints the unknown
    /// surface, consecutive byte pieces are joined and read as UTF-8 (each invalid byte becomes U+FFFD), ▁ becomes a
    /// space, and the first ▁ of the text is dropped only when the model adds a dummy prefix or removes extra
    /// whitespace.
    /// </summary>
    private string DecodePieces(IReadOnlyList<string> pieces)
    {
        var vocabulary = _processor.Vocabulary;
        var model = vocabulary.Model;
        bool consumeBosSpace = model.AddDummyPrefix || model.RemoveExtraWhitespaces;
        var text = new StringBuilder();
        var bytes = new List<byte>();
        bool isBosSpace = true, bosSpaceSeen = false;
        foreach (var piece in pieces)
        {
            int id = vocabulary.PieceToId(piece);
            var type = vocabulary.TypeOf(id);
            if (type == SentencePieceType.Byte)
            {
                bytes.Add(byte.Parse(piece.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                continue;
            }
            FlushBytes(bytes, text);
            if (bosSpaceSeen || text.Length > 0)
            {
                isBosSpace = false;
            }
            bosSpaceSeen = false;
            if (type == SentencePieceType.Control)
            {
                continue;
            }
            if (type == SentencePieceType.Unknown)
            {
                text.Append(piece == vocabulary.IdToPiece(id) ? model.UnknownSurface : piece);
                continue;
            }
            string surface = piece;
            if (isBosSpace && consumeBosSpace && surface.StartsWith(SpaceSymbol, StringComparison.Ordinal))
            {
                surface = surface[SpaceSymbol.Length..];
                bosSpaceSeen = !model.RemoveExtraWhitespaces;
            }
            text.Append(surface.Replace(SpaceSymbol, " ", StringComparison.Ordinal));
        }
        FlushBytes(bytes, text);
        return text.ToString();
    }

    /// <summary>Byte pieces read as UTF-8, one U+FFFD per byte that does not start a valid character.</summary>
    private static void FlushBytes(List<byte> bytes, StringBuilder text)
    {
        if (bytes.Count == 0)
        {
            return;
        }
        var span = bytes.ToArray().AsSpan();
        while (!span.IsEmpty)
        {
            var status = System.Text.Rune.DecodeFromUtf8(span, out var rune, out int consumed);
            if (status == System.Buffers.OperationStatus.Done)
            {
                text.Append(rune.ToString());
                span = span[consumed..];
            }
            else
            {
                text.Append('\uFFFD');
                span = span[1..];
            }
        }
        bytes.Clear();
    }
}
