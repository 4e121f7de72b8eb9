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
    /// model are copied as they are, ▁ becomes a space and the leading ▁ of the text is dropped.
    /// </summary>
    public string DecodePieces(IReadOnlyList<string> pieces)
    {
        var text = new StringBuilder();
        foreach (var piece in pieces)
        {
            int id = Vocabulary.PieceToId(piece);
            var type = Vocabulary.TypeOf(id);
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
        return text.ToString();
    }
}
