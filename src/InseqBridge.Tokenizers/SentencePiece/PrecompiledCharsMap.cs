using System.Buffers.Binary;

namespace InseqBridge.Tokenizers.SentencePiece;

/// <summary>
/// SentencePiece's compiled normalization rules (<c>precompiled_charsmap</c>, e.g. <c>nmt_nfkc</c>): a little-endian
/// u32 trie size, a darts-clone double-array trie over UTF-8 byte strings whose values are offsets, then a pool of
/// NUL-terminated replacement strings at those offsets.
/// </summary>
internal sealed class PrecompiledCharsMap
{
    private readonly uint[] _units;
    private readonly byte[] _pool;

    private PrecompiledCharsMap(uint[] units, byte[] pool)
    {
        _units = units;
        _pool = pool;
    }

    /// <summary>Decodes the blob; a malformed one raises <see cref="InvalidDataException"/>.</summary>
    public static PrecompiledCharsMap Parse(ReadOnlySpan<byte> blob)
    {
        if (blob.Length < 4)
        {
            throw new InvalidDataException("precompiled_charsmap is shorter than its 4-byte header");
        }
        uint trieSize = BinaryPrimitives.ReadUInt32LittleEndian(blob);
        if (trieSize > (uint)(blob.Length - 4) || trieSize % 4 != 0)
        {
            throw new InvalidDataException($"precompiled_charsmap trie size {trieSize} does not fit the {blob.Length}-byte blob");
        }
        var units = new uint[trieSize / 4];
        for (int i = 0; i < units.Length; i++)
        {
            units[i] = BinaryPrimitives.ReadUInt32LittleEndian(blob.Slice(4 + (4 * i)));
        }
        return new PrecompiledCharsMap(units, blob[(4 + (int)trieSize)..].ToArray());
    }

    /// <summary>
    /// Finds the longest rule that matches a prefix of <paramref name="input"/>. Returns the matched length in bytes
    /// (0 when no rule applies) and the replacement bytes.
    /// </summary>
    public int LongestMatch(ReadOnlySpan<byte> input, out ReadOnlySpan<byte> replacement) =>
        Match(input, shortest: false, out replacement);

    /// <summary>
    /// The shortest rule that matches a prefix of <paramref name="input"/> (the first result of a common-prefix
    /// search, which is what the Rust library's <c>Precompiled</c> normalizer uses). Returns 0 when none applies.
    /// </summary>
    public int ShortestMatch(ReadOnlySpan<byte> input, out ReadOnlySpan<byte> replacement) =>
        Match(input, shortest: true, out replacement);

    private int Match(ReadOnlySpan<byte> input, bool shortest, out ReadOnlySpan<byte> replacement)
    {
        replacement = default;
        if (_units.Length == 0)
        {
            return 0;
        }
        int bestLength = 0;
        uint bestValue = 0;
        // darts-clone unit layout: bits 0-7 label, bit 8 has-leaf, bit 9 offset-scale flag, bits 10-31 offset;
        // a leaf unit holds its value in bits 0-30.
        uint nodePos = Offset(_units[0]);
        for (int i = 0; i < input.Length; i++)
        {
            nodePos ^= input[i];
            if (nodePos >= _units.Length)
            {
                break;
            }
            uint unit = _units[nodePos];
            if ((unit & 0x800000FFu) != input[i])
            {
                break;
            }
            nodePos ^= Offset(unit);
            if (((unit >> 8) & 1) != 0 && nodePos < _units.Length)
            {
                bestLength = i + 1;
                bestValue = _units[nodePos] & 0x7FFFFFFFu;
                if (shortest)
                {
                    break;
                }
            }
        }
        if (bestLength == 0)
        {
            return 0;
        }
        if (bestValue >= _pool.Length)
        {
            throw new InvalidDataException($"precompiled_charsmap points at offset {bestValue} outside its {_pool.Length}-byte string pool");
        }
        var tail = _pool.AsSpan((int)bestValue);
        int end = tail.IndexOf((byte)0);
        replacement = end < 0 ? tail : tail[..end];
        return bestLength;
    }

    private static uint Offset(uint unit) => (unit >> 10) << (int)((unit & (1u << 9)) >> 6);
}
