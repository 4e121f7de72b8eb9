using System.Text;

namespace InseqBridge.Tokenizers.SentencePiece;

/// <summary>
/// SentencePiece unigram segmentation: the Viterbi path that maximizes the summed piece scores over the normalized
/// text. A character no piece starts with becomes the unknown piece with score <c>min_score - 10</c>; user-defined
/// pieces score <c>bytes × max_score - 0.1</c> so they always win. Scores are summed in single precision like the
/// C++ code, so ties resolve identically (earlier start wins).
/// </summary>
internal sealed class UnigramEncoder
{
    private const float UnknownPenalty = 10.0f;

    private readonly SentencePieceVocabulary _vocabulary;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int _maxPieceLength;
    private readonly float _unknownScore;
    private readonly float _maxScore;

    /// <summary>Prepares the encoder.</summary>
    public UnigramEncoder(SentencePieceVocabulary vocabulary)
    {
        _vocabulary = vocabulary;
        var pieces = new Dictionary<string, int>(StringComparer.Ordinal);
        float minScore = float.MaxValue;
        float maxScore = float.MinValue;
        foreach (var (piece, id) in vocabulary.Segmentable)
        {
            var (_, score, type) = vocabulary.Model.Pieces[id];
            if (type == SentencePieceType.Unused || piece.Length == 0)
            {
                continue;
            }
            pieces[piece] = id;
            _maxPieceLength = Math.Max(_maxPieceLength, piece.Length);
            if (type == SentencePieceType.Normal)
            {
                minScore = Math.Min(minScore, score);
                maxScore = Math.Max(maxScore, score);
            }
        }
        _lookup = pieces.GetAlternateLookup<ReadOnlySpan<char>>();
        _unknownScore = minScore - UnknownPenalty;
        _maxScore = maxScore;
    }

    /// <summary>Segments <paramref name="normalized"/> into (piece, id) pairs, unknown characters one per code point.</summary>
    public List<(string Piece, int Id)> Encode(string normalized)
    {
        int size = normalized.Length;
        var bestScore = new float[size + 1];
        var bestStart = new int[size + 1];
        var bestId = new int[size + 1];
        Array.Fill(bestStart, -1);
        bestStart[0] = 0;

        int start = 0;
        while (start < size)
        {
            float scoreHere = bestScore[start];
            int charLength = char.IsHighSurrogate(normalized[start]) && start + 1 < size &&
                             char.IsLowSurrogate(normalized[start + 1]) ? 2 : 1;
            bool hasSingleCharPiece = false;
            int maxEnd = Math.Min(size, start + _maxPieceLength);
            for (int end = start + 1; end <= maxEnd; end++)
            {
                if (!_lookup.TryGetValue(normalized.AsSpan(start, end - start), out int id))
                {
                    continue;
                }
                // Same precisions as the C++ code: float sums, except the user-defined bonus which is a double.
                double candidate;
                if (_vocabulary.TypeOf(id) == SentencePieceType.UserDefined)
                {
                    int bytes = Encoding.UTF8.GetByteCount(normalized.AsSpan(start, end - start));
                    candidate = ((float)bytes * _maxScore) - 0.1 + scoreHere;
                }
                else
                {
                    candidate = _vocabulary.Model.Pieces[id].Score + scoreHere;
                }
                if (bestStart[end] == -1 || candidate > bestScore[end])
                {
                    bestScore[end] = (float)candidate;
                    bestStart[end] = start;
                    bestId[end] = id;
                }
                if (end - start == charLength)
                {
                    hasSingleCharPiece = true;
                }
            }
            if (!hasSingleCharPiece)
            {
                int end = start + charLength;
                float candidate = _unknownScore + scoreHere;
                if (bestStart[end] == -1 || candidate > bestScore[end])
                {
                    bestScore[end] = candidate;
                    bestStart[end] = start;
                    bestId[end] = _vocabulary.UnknownId;
                }
            }
            start += charLength;
        }

        var result = new List<(string, int)>();
        int position = size;
        while (position > 0)
        {
            int from = bestStart[position];
            result.Add((normalized[from..position], bestId[position]));
            position = from;
        }
        result.Reverse();
        return result;
    }
}
