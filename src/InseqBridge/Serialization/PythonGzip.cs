using System.Buffers.Binary;
using System.IO.Compression;

namespace InseqBridge.Serialization;

/// <summary>
/// Gzip as Python's <c>gzip.GzipFile(mtime=0)</c> frames it (no file name, mtime 0, XFL from the level, OS 255),
/// so the header bytes match Inseq's. The deflate stream itself comes from .NET's zlib-ng, which usually but not
/// always produces the same bytes as CPython's zlib; decompression is standard.
/// </summary>
internal static class PythonGzip
{
    private static readonly uint[] CrcTable = BuildCrcTable();

    public static bool HasMagic(ReadOnlySpan<byte> data) => data.Length >= 2 && data[0] == 0x1F && data[1] == 0x8B;

    public static byte[] Compress(ReadOnlySpan<byte> data, int level)
    {
        using var output = new MemoryStream();
        Span<byte> header = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, (byte)(level == 9 ? 2 : level == 1 ? 4 : 0), 0xFF];
        output.Write(header);
        using (var deflate = new DeflateStream(output, new ZLibCompressionOptions { CompressionLevel = level }, leaveOpen: true))
        {
            deflate.Write(data);
        }

        Span<byte> trailer = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(trailer, Crc32(data));
        BinaryPrimitives.WriteUInt32LittleEndian(trailer[4..], unchecked((uint)data.Length));
        output.Write(trailer);
        return output.ToArray();
    }

    public static byte[] Decompress(byte[] data) =>
        Decompress(data, Array.MaxLength) ?? throw new InvalidDataException("The gzip data decompresses to more than an array holds.");

    /// <summary>Decompresses at most <paramref name="maxBytes"/> bytes; returns null when the data holds more (the
    /// rest is never inflated, so a gzip bomb costs at most <paramref name="maxBytes"/> of memory).</summary>
    /// <exception cref="InvalidDataException">The data is not valid gzip.</exception>
    public static byte[]? Decompress(byte[] data, long maxBytes)
    {
        using var input = new GZipStream(new MemoryStream(data), CompressionMode.Decompress);
        using var output = new MemoryStream();
        byte[] buffer = new byte[81920];
        int read;
        while ((read = input.Read(buffer, 0, buffer.Length)) > 0)
        {
            if (output.Length + read > maxBytes)
            {
                return null;
            }

            output.Write(buffer, 0, read);
        }

        return output.ToArray();
    }

    /// <summary>Decompresses exactly <paramref name="expectedBytes"/> bytes into a buffer of that size.</summary>
    /// <exception cref="InvalidDataException">The data is not valid gzip, or holds fewer or more bytes than expected.</exception>
    public static byte[] DecompressExactly(byte[] data, int expectedBytes)
    {
        using var input = new GZipStream(new MemoryStream(data), CompressionMode.Decompress);
        var result = new byte[expectedBytes];
        int total = 0;
        while (total < expectedBytes)
        {
            int read = input.Read(result, total, expectedBytes - total);
            if (read == 0)
            {
                throw new InvalidDataException($"the gzip data holds {total} bytes, fewer than the {expectedBytes} its shape and dtype need");
            }

            total += read;
        }

        if (input.Read(new byte[1], 0, 1) != 0)
        {
            throw new InvalidDataException($"the gzip data holds more than the {expectedBytes} bytes its shape and dtype need");
        }

        return result;
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in data)
        {
            crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return ~crc;
    }

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }
}
