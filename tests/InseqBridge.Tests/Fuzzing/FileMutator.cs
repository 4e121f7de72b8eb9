using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace InseqBridge.Tests.Fuzzing;

/// <summary>
/// Deterministic mutations of real files for fuzzing readers: bit flips, random bytes, truncations, deleted and
/// duplicated ranges, extra nesting, edited numbers (lengths, shapes, offsets), and mutations inside the base64 /
/// gzip / safetensors payloads embedded in Inseq JSON (re-encoded so they get past the outer layer). One seed
/// always gives the same mutant, so a failure is reproducible from the seed alone.
/// </summary>
public static class FileMutator
{
    private static readonly Regex Number = new(@"-?\d+", RegexOptions.Compiled);
    private static readonly Regex Base64Value = new("\"(b64(?:\\.gz)?:)?([A-Za-z0-9+/]{12,}={0,2})\"", RegexOptions.Compiled);

    /// <summary>A mutant of <paramref name="original"/> (1 to 4 mutations chosen by <paramref name="seed"/>).</summary>
    public static byte[] Mutate(byte[] original, int seed)
    {
        var random = new Random(seed);
        byte[] data = original;
        bool gzip = data.Length > 2 && data[0] == 0x1F && data[1] == 0x8B;
        if (gzip && random.Next(4) != 0)
        {
            // Mostly mutate the text inside, so mutants get past the CRC; sometimes the gzip bytes themselves.
            return Gzip(Mutate(Gunzip(data), seed ^ 0x5bd1e995));
        }

        int count = 1 + random.Next(4);
        for (int i = 0; i < count; i++)
        {
            data = MutateOnce(data, random);
        }

        return data;
    }

    private static byte[] MutateOnce(byte[] data, Random random)
    {
        if (data.Length == 0)
        {
            return [(byte)random.Next(256)];
        }

        switch (random.Next(10))
        {
            case 0: // bit flips
                {
                    var copy = (byte[])data.Clone();
                    for (int k = random.Next(1, 8); k > 0; k--)
                    {
                        copy[random.Next(copy.Length)] ^= (byte)(1 << random.Next(8));
                    }

                    return copy;
                }

            case 1: // random or interesting bytes
                {
                    var copy = (byte[])data.Clone();
                    byte[] interesting = [0, 0xFF, 0x7F, 0x80, (byte)'"', (byte)'\\', (byte)'[', (byte)'{', (byte)'}', (byte)']', (byte)',', (byte)':', 0x1B, (byte)'\n'];
                    for (int k = random.Next(1, 5); k > 0; k--)
                    {
                        copy[random.Next(copy.Length)] = random.Next(2) == 0 ? (byte)random.Next(256) : interesting[random.Next(interesting.Length)];
                    }

                    return copy;
                }

            case 2: // truncation
                return data[..random.Next(data.Length)];

            case 3: // deleted range
                {
                    int start = random.Next(data.Length);
                    int length = random.Next(1, Math.Min(4096, data.Length - start) + 1);
                    return [.. data[..start], .. data[(start + length)..]];
                }

            case 4: // duplicated range (repeats structure: more tokens, longer lists, nested copies)
                {
                    int start = random.Next(data.Length);
                    int length = random.Next(1, Math.Min(2048, data.Length - start) + 1);
                    int at = random.Next(data.Length + 1);
                    return [.. data[..at], .. data.AsSpan(start, length), .. data[at..]];
                }

            case 5: // extra nesting
                {
                    int at = random.Next(data.Length + 1);
                    string open = random.Next(2) == 0 ? "[" : "{\"k\":";
                    int depth = random.Next(3) switch { 0 => random.Next(1, 10), 1 => random.Next(200, 300), _ => random.Next(1000, 100_000) };
                    byte[] nest = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat(open, depth)));
                    return [.. data[..at], .. nest, .. data[at..]];
                }

            case 6 or 7: // an edited number (shape entries, lengths, offsets, ids, positions)
                {
                    string text = Encoding.UTF8.GetString(data);
                    var numbers = Number.Matches(text);
                    if (numbers.Count == 0)
                    {
                        return MutateOnce(data, random);
                    }

                    Match m = numbers[random.Next(numbers.Count)];
                    string[] replacements = ["0", "-1", "1", "2147483647", "2147483648", "4294967296", "9223372036854775807", "99999999999999999999", "1e308", "NaN", m.Value + "0", "3"];
                    string edited = string.Concat(text.AsSpan(0, m.Index), replacements[random.Next(replacements.Length)], text.AsSpan(m.Index + m.Length));
                    return Encoding.UTF8.GetBytes(edited);
                }

            default: // inside an embedded base64 payload (0.6 b64/b64.gz arrays, 0.7 safetensors blobs)
                {
                    string text = Encoding.UTF8.GetString(data);
                    var values = Base64Value.Matches(text);
                    if (values.Count == 0)
                    {
                        return MutateOnce(data, random);
                    }

                    Match m = values[random.Next(values.Count)];
                    byte[] payload;
                    try
                    {
                        payload = Convert.FromBase64String(m.Groups[2].Value);
                    }
                    catch (FormatException)
                    {
                        return MutateOnce(data, random);
                    }

                    bool gz = m.Groups[1].Value == "b64.gz:";
                    byte[] inner = gz ? SafeGunzip(payload) ?? payload : payload;
                    if (inner.Length >= 8 && random.Next(3) == 0)
                    {
                        // A safetensors length field (u64 LE header length) set to something hostile.
                        inner = (byte[])inner.Clone();
                        ulong[] lengths = [0, 1, (ulong)inner.Length, (ulong)inner.Length + 1, ulong.MaxValue, 1UL << 62, (ulong)random.Next()];
                        BitConverter.TryWriteBytes(inner.AsSpan(0, 8), lengths[random.Next(lengths.Length)]);
                    }
                    else
                    {
                        inner = MutateOnce(inner, random);
                    }

                    byte[] encoded = gz ? Gzip(inner) : inner;
                    string replacement = $"\"{m.Groups[1].Value}{Convert.ToBase64String(encoded)}\"";
                    return Encoding.UTF8.GetBytes(string.Concat(text.AsSpan(0, m.Index), replacement, text.AsSpan(m.Index + m.Length)));
                }
        }
    }

    private static byte[] Gzip(byte[] data)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return buffer.ToArray();
    }

    private static byte[] Gunzip(byte[] data) => SafeGunzip(data) ?? data;

    private static byte[]? SafeGunzip(byte[] data)
    {
        try
        {
            using var gzip = new GZipStream(new MemoryStream(data), CompressionMode.Decompress);
            using var output = new MemoryStream();
            gzip.CopyTo(output);
            return output.ToArray();
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }
}
