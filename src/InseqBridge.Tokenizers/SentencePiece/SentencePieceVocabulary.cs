namespace InseqBridge.Tokenizers.SentencePiece;

/// <summary>
/// Piece ↔ id lookups of a SentencePiece model with its C++ precedence: control/unknown/byte pieces ("reserved")
/// are looked up first, then the pieces the segmentation can produce (normal, user-defined, unused).
/// </summary>
internal sealed class SentencePieceVocabulary
{
    private readonly Dictionary<string, int> _reserved = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _segmentable = new(StringComparer.Ordinal);

    /// <summary>Indexes the pieces of <paramref name="model"/>.</summary>
    public SentencePieceVocabulary(SentencePieceModel model)
    {
        Model = model;
        UnknownId = -1;
        var pieces = model.Pieces;
        for (int id = 0; id < pieces.Count; id++)
        {
            var (piece, _, type) = pieces[id];
            bool segmentable = type is SentencePieceType.Normal or SentencePieceType.UserDefined or SentencePieceType.Unused;
            if (!(segmentable ? _segmentable : _reserved).TryAdd(piece, id))
            {
                throw new InvalidDataException($"piece '{piece}' appears twice");
            }
            if (type == SentencePieceType.Unknown)
            {
                UnknownId = id;
            }
        }
        if (UnknownId < 0)
        {
            throw new InvalidDataException("the model has no unknown piece");
        }
    }

    /// <summary>The model.</summary>
    public SentencePieceModel Model { get; }

    /// <summary>Id of the unknown piece.</summary>
    public int UnknownId { get; }

    /// <summary>Number of pieces (<c>get_piece_size()</c>).</summary>
    public int Count => Model.Pieces.Count;

    /// <summary>The pieces the segmentation may produce (piece → id).</summary>
    public IReadOnlyDictionary<string, int> Segmentable => _segmentable;

    /// <summary><c>PieceToId</c>: the id, or the unknown id.</summary>
    public int PieceToId(string piece) =>
        _reserved.TryGetValue(piece, out int id) || _segmentable.TryGetValue(piece, out id) ? id : UnknownId;

    /// <summary>True when <paramref name="piece"/> is a piece of the model.</summary>
    public bool Contains(string piece) => _reserved.ContainsKey(piece) || _segmentable.ContainsKey(piece);

    /// <summary><c>IdToPiece</c>, or null when out of range.</summary>
    public string? IdToPiece(int id) => id >= 0 && id < Model.Pieces.Count ? Model.Pieces[id].Piece : null;

    /// <summary>The type of the piece <paramref name="id"/>.</summary>
    public SentencePieceType TypeOf(int id) => Model.Pieces[id].Type;
}
