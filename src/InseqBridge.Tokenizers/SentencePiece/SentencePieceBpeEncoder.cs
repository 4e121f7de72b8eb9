namespace InseqBridge.Tokenizers.SentencePiece;

/// <summary>
/// SentencePiece BPE segmentation: start from single characters (user-defined pieces kept whole) and repeatedly
/// merge the adjacent pair whose concatenation is the highest-scoring piece (leftmost on ties). Symbols that are
/// not pieces end up as the unknown piece.
/// </summary>
internal sealed class SentencePieceBpeEncoder
{
    private readonly SentencePieceVocabulary _vocabulary;
    private readonly Dictionary<string, int> _pieces = new(StringComparer.Ordinal);
    private readonly List<string> _userDefined = [];

    /// <summary>Prepares the encoder.</summary>
    public SentencePieceBpeEncoder(SentencePieceVocabulary vocabulary)
    {
        _vocabulary = vocabulary;
        foreach (var (piece, id) in vocabulary.Segmentable)
        {
            var type = vocabulary.TypeOf(id);
            if (type == SentencePieceType.Unused)
            {
                continue;
            }
            _pieces[piece] = id;
            if (type == SentencePieceType.UserDefined)
            {
                _userDefined.Add(piece);
            }
        }
    }

    /// <summary>Segments <paramref name="normalized"/> into (piece, id) pairs.</summary>
    public List<(string Piece, int Id)> Encode(string normalized)
    {
        var symbols = new List<string>();
        int i = 0;
        while (i < normalized.Length)
        {
            int length = 0;
            foreach (var symbol in _userDefined)
            {
                if (symbol.Length > length && string.CompareOrdinal(normalized, i, symbol, 0, symbol.Length) == 0)
                {
                    length = symbol.Length;
                }
            }
            if (length == 0)
            {
                length = char.IsHighSurrogate(normalized[i]) && i + 1 < normalized.Length &&
                         char.IsLowSurrogate(normalized[i + 1]) ? 2 : 1;
            }
            symbols.Add(normalized.Substring(i, length));
            i += length;
        }

        while (symbols.Count > 1)
        {
            int best = -1;
            float bestScore = float.MinValue;
            for (int j = 0; j < symbols.Count - 1; j++)
            {
                if (_pieces.TryGetValue(symbols[j] + symbols[j + 1], out int id) &&
                    _vocabulary.TypeOf(id) != SentencePieceType.UserDefined)
                {
                    float score = _vocabulary.Model.Pieces[id].Score;
                    if (best < 0 || score > bestScore)
                    {
                        best = j;
                        bestScore = score;
                    }
                }
            }
            if (best < 0)
            {
                break;
            }
            symbols[best] += symbols[best + 1];
            symbols.RemoveAt(best + 1);
        }

        var result = new List<(string, int)>(symbols.Count);
        foreach (var symbol in symbols)
        {
            result.Add((symbol, _pieces.TryGetValue(symbol, out int id) ? id : _vocabulary.UnknownId));
        }
        return result;
    }
}
