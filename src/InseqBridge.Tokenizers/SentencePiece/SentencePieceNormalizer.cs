using System.Buffers;
using System.Text;

namespace InseqBridge.Tokenizers.SentencePiece;

/// <summary>
/// SentencePiece's text normalizer: the precompiled character map (longest rule first, else the character as is),
/// then <c>remove_extra_whitespaces</c> (no leading/trailing spaces, runs collapsed), <c>add_dummy_prefix</c> and
/// whitespace escaping to U+2581 (▁). Works on UTF-8 bytes like the C++ code, so multi-character rules behave the same.
/// </summary>
internal sealed class SentencePieceNormalizer
{
    private static readonly byte[] SpaceSymbol = Encoding.UTF8.GetBytes("\u2581");
    private static readonly byte[] ReplacementCharacter = Encoding.UTF8.GetBytes("\uFFFD");

    private readonly PrecompiledCharsMap? _charsMap;
    private readonly byte[][] _userDefined;
    private readonly bool _addDummyPrefix;
    private readonly bool _removeExtraWhitespaces;
    private readonly bool _escapeWhitespaces;
    private readonly bool _treatWhitespaceAsSuffix;

    /// <summary>Creates the normalizer of <paramref name="model"/>.</summary>
    public SentencePieceNormalizer(SentencePieceModel model)
    {
        _charsMap = model.PrecompiledCharsMap.Length == 0 ? null : PrecompiledCharsMap.Parse(model.PrecompiledCharsMap);
        var userDefined = new List<byte[]>();
        foreach (var (piece, _, type) in model.Pieces)
        {
            if (type == SentencePieceType.UserDefined && piece.Length > 0)
            {
                userDefined.Add(Encoding.UTF8.GetBytes(piece));
            }
        }
        _userDefined = [.. userDefined];
        _addDummyPrefix = model.AddDummyPrefix;
        _removeExtraWhitespaces = model.RemoveExtraWhitespaces;
        _escapeWhitespaces = model.EscapeWhitespaces;
        _treatWhitespaceAsSuffix = model.TreatWhitespaceAsSuffix;
    }

    /// <summary>Normalizes <paramref name="text"/> (the result uses ▁ for spaces when escaping is on).</summary>
    public string Normalize(string text)
    {
        if (text.Length == 0)
        {
            return "";
        }
        ReadOnlySpan<byte> input = Encoding.UTF8.GetBytes(text);
        var output = new ArrayBufferWriter<byte>(input.Length * 3);

        if (_removeExtraWhitespaces)
        {
            while (!input.IsEmpty)
            {
                int consumed = NormalizePrefix(input, out var normalized);
                if (!(normalized.Length == 1 && normalized[0] == (byte)' '))
                {
                    break;
                }
                input = input[consumed..];
            }
        }
        if (input.IsEmpty)
        {
            return "";
        }

        if (!_treatWhitespaceAsSuffix && _addDummyPrefix)
        {
            AppendSpace(output);
        }
        bool isPreviousSpace = _removeExtraWhitespaces;
        while (!input.IsEmpty)
        {
            int consumed = NormalizePrefix(input, out var normalized);
            if (isPreviousSpace)
            {
                while (!normalized.IsEmpty && normalized[0] == (byte)' ')
                {
                    normalized = normalized[1..];
                }
            }
            if (!normalized.IsEmpty)
            {
                foreach (byte b in normalized)
                {
                    if (b == (byte)' ' && _escapeWhitespaces)
                    {
                        output.Write(SpaceSymbol);
                    }
                    else
                    {
                        output.Write([b]);
                    }
                }
                isPreviousSpace = normalized[^1] == (byte)' ';
            }
            input = input[consumed..];
            if (!_removeExtraWhitespaces)
            {
                isPreviousSpace = false;
            }
        }

        var written = output.WrittenSpan;
        if (_removeExtraWhitespaces)
        {
            ReadOnlySpan<byte> space = _escapeWhitespaces ? SpaceSymbol : " "u8;
            while (written.EndsWith(space))
            {
                written = written[..^space.Length];
            }
        }
        string result = Encoding.UTF8.GetString(written);
        if (_treatWhitespaceAsSuffix && _addDummyPrefix)
        {
            result += _escapeWhitespaces ? "\u2581" : " ";
        }
        return result;
    }

    private void AppendSpace(ArrayBufferWriter<byte> output)
    {
        if (_escapeWhitespaces)
        {
            output.Write(SpaceSymbol);
        }
        else
        {
            output.Write(" "u8);
        }
    }

    // One normalization step: user-defined symbols pass through untouched, else the longest charsmap rule, else one
    // UTF-8 character (an invalid byte becomes U+FFFD). Returns the number of input bytes consumed.
    private int NormalizePrefix(ReadOnlySpan<byte> input, out ReadOnlySpan<byte> normalized)
    {
        int userLength = 0;
        foreach (var symbol in _userDefined)
        {
            if (symbol.Length > userLength && input.StartsWith(symbol))
            {
                userLength = symbol.Length;
            }
        }
        if (userLength > 0)
        {
            normalized = input[..userLength];
            return userLength;
        }
        if (_charsMap is not null)
        {
            int length = _charsMap.LongestMatch(input, out normalized);
            if (length > 0)
            {
                return length;
            }
        }
        if (Rune.DecodeFromUtf8(input, out _, out int consumed) == OperationStatus.Done)
        {
            normalized = input[..consumed];
            return consumed;
        }
        normalized = ReplacementCharacter;
        return 1;
    }
}
