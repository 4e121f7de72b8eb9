namespace InseqBridge.Tokenizers.ByteLevel;

/// <summary>
/// GPT-2's reversible byte ↔ printable character table (<c>bytes_to_unicode</c>): printable Latin-1 bytes map to
/// themselves, the others (controls, space, ...) to U+0100 and up, so that every BPE token is visible text.
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> CharToByte = BuildCharToByte();

    /// <summary>The character that stands for <paramref name="value"/>.</summary>
    public static char Encode(byte value) => ByteToChar[value];

    /// <summary>The byte a character stands for, or false when it is not part of the alphabet.</summary>
    public static bool TryDecode(char c, out byte value) => CharToByte.TryGetValue(c, out value);

    private static char[] BuildByteToChar()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }

    private static Dictionary<char, byte> BuildCharToByte()
    {
        var map = new Dictionary<char, byte>(256);
        for (int b = 0; b < 256; b++)
        {
            map[ByteToChar[b]] = (byte)b;
        }
        return map;
    }
}
