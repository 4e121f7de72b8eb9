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

    public static byte[] Decompress(byte[] data)
    {
        using var input = new GZipStream(new MemoryStream(data), CompressionMode.Decompress);
        using var output = new MemoryStream();
        input.CopyTo(output);
        return output.ToArray();
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
