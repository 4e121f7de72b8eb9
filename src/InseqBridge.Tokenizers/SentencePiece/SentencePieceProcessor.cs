using System.Text;

namespace InseqBridge.Tokenizers.SentencePiece;

/// <summary>
/// The parts of <c>sentencepiece.SentencePieceProcessor</c> that Hugging Face slow tokenizers call:
/// <c>encode(text, out_type=str)</c>, <c>piece_to_id</c>, <c>IdToPiece</c> and <c>decode(pieces)</c>.
/// Immutable after load.
/// </summary>
internal sealed class SentencePieceProcessor
{
    private const string SpaceSymbol = "\u2581";

    private readonly SentencePieceNormalizer _normalizer;
    private readonly Func<string, List<(string Piece, int Id)>> _segment;

    private SentencePieceProcessor(SentencePieceModel model)
    {
        Vocabulary = new SentencePieceVocabulary(model);
        _normalizer = new SentencePieceNormalizer(model);
        _segment = model.ModelType switch
        {
            SentencePieceModel.UnigramModelType => new UnigramEncoder(Vocabulary).Encode,
            SentencePieceModel.BpeModelType => new SentencePieceBpeEncoder(Vocabulary).Encode,
            _ => throw new InvalidDataException(
                $"model type {model.ModelType} is not supported (only unigram = 1 and BPE = 2)"),
        };
    }

    /// <summary>The vocabulary.</summary>
    public SentencePieceVocabulary Vocabulary { get; }

    /// <summary>Loads a <c>.model</c> file; problems raise a <see cref="TokenizerLoadException"/> naming it.</summary>
    public static SentencePieceProcessor Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new TokenizerLoadException($"SentencePiece model '{path}' is missing.");
        }
        var model = SentencePieceModel.Load(path);
        try
        {
            return new SentencePieceProcessor(model);
        }
        catch (InvalidDataException e)
        {
            throw new TokenizerLoadException($"'{path}' is not a usable SentencePiece model: {e.Message}.", e);
        }
    }

    /// <summary>
    /// <c>encode(text, out_type=str)</c>: normalized pieces; a run of unknown pieces is merged into one piece (its text
    /// is the normalized surface, not <c>&lt;unk&gt;</c>).
    /// </summary>
    public List<string> EncodeAsPieces(string text)
    {
        string normalized = _normalizer.Normalize(text);
        var pieces = new List<string>();
        if (normalized.Length == 0)
        {
            return pieces;
        }
        bool previousUnknown = false;
        foreach (var (piece, id) in _segment(normalized))
        {
            bool unknown = id == Vocabulary.UnknownId;
            if (unknown && Vocabulary.Model.ByteFallback)
            {
                // byte_fallback: an unknown piece becomes one <0xXX> piece per UTF-8 byte.
                foreach (byte b in Encoding.UTF8.GetBytes(piece))
                {
                    pieces.Add($"<0x{b:X2}>");
                }
                previousUnknown = false;
                continue;
            }
            if (unknown && previousUnknown)
            {
                pieces[^1] += piece;
            }
            else
            {
                pieces.Add(piece);
            }
            previousUnknown = unknown;
        }
        return pieces;
    }

    /// <summary>
    /// <c>decode(pieces)</c>: control pieces vanish, the unknown piece prints the unknown surface, pieces outside the
    /// model are copied as they are, ▁ becomes a space and the leading ▁ of the text is dropped. Runs of byte pieces
    /// (<c>&lt;0xXX&gt;</c>) are joined into bytes and read as UTF-8, each byte that does not start a valid character
    /// printing U+FFFD.
    /// </summary>
    public string DecodePieces(IReadOnlyList<string> pieces)
    {
        var text = new StringBuilder();
        var bytes = new List<byte>();
        foreach (var piece in pieces)
        {
            int id = Vocabulary.PieceToId(piece);
            var type = Vocabulary.TypeOf(id);
            if (type == SentencePieceType.Byte && TryParseByte(piece, out byte value))
            {
                bytes.Add(value);
                continue;
            }
            FlushBytes(bytes, text);
            if (type == SentencePieceType.Control)
            {
                continue;
            }
            if (type == SentencePieceType.Unknown)
            {
                text.Append(piece == Vocabulary.IdToPiece(id) ? Vocabulary.Model.UnknownSurface : piece);
                continue;
            }
            ReadOnlySpan<char> surface = piece;
            if (text.Length == 0 && surface.StartsWith(SpaceSymbol))
            {
                surface = surface[SpaceSymbol.Length..];
            }
            text.Append(surface.ToString().Replace(SpaceSymbol, " ", StringComparison.Ordinal));
        }
        FlushBytes(bytes, text);
        return text.ToString();
    }

    private static bool TryParseByte(string piece, out byte value)
    {
        value = 0;
        return piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>' &&
               byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out value);
    }

    /// <summary>Appends pending byte pieces as UTF-8, one U+FFFD per byte that does not begin a valid character.</summary>
    private static void FlushBytes(List<byte> bytes, StringBuilder text)
    {
        if (bytes.Count == 0)
        {
            return;
        }
        ReadOnlySpan<byte> span = bytes.ToArray();
        while (!span.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(span, out Rune rune, out int consumed) == System.Buffers.OperationStatus.Done)
            {
                text.Append(rune.ToString());
            }
            else
            {
                text.Append('\uFFFD');
                consumed = 1;
            }
            span = span[consumed..];
        }
        bytes.Clear();
    }
}
