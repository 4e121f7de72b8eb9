using System.Buffers.Binary;
using System.Text;

namespace InseqBridge.Tokenizers.SentencePiece;

/// <summary>
/// A minimal forward-only reader of the protobuf wire format, enough for SentencePiece's <c>ModelProto</c>.
/// Truncated or malformed input raises <see cref="InvalidDataException"/>; callers turn it into a
/// <see cref="TokenizerLoadException"/> that names the file.
/// </summary>
internal ref struct ProtobufReader
{
    /// <summary>Wire type of varint fields.</summary>
    public const int Varint = 0;

    /// <summary>Wire type of 64-bit fields.</summary>
    public const int Fixed64 = 1;

    /// <summary>Wire type of length-delimited fields (strings, bytes, sub-messages).</summary>
    public const int LengthDelimited = 2;

    /// <summary>Wire type of 32-bit fields (floats).</summary>
    public const int Fixed32 = 5;

    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    /// <summary>Reads <paramref name="data"/> from its start.</summary>
    public ProtobufReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = 0;
    }

    /// <summary>True when all bytes were read.</summary>
    public readonly bool AtEnd => _position >= _data.Length;

    /// <summary>Reads the next field key.</summary>
    public (int Field, int WireType) ReadKey()
    {
        ulong key = ReadVarint();
        int field = (int)(key >> 3);
        if (field <= 0)
        {
            throw new InvalidDataException($"invalid protobuf field number {field} at byte {_position}");
        }
        return (field, (int)(key & 7));
    }

    /// <summary>Reads a varint.</summary>
    public ulong ReadVarint()
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _data.Length)
            {
                throw new InvalidDataException($"truncated varint at byte {_position}");
            }
            byte b = _data[_position++];
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }
        throw new InvalidDataException($"varint longer than 10 bytes at byte {_position}");
    }

    /// <summary>Reads a 32-bit float.</summary>
    public float ReadFloat() => BitConverter.Int32BitsToSingle((int)BinaryPrimitives.ReadUInt32LittleEndian(Take(4)));

    /// <summary>Reads a length-delimited payload.</summary>
    public ReadOnlySpan<byte> ReadBytes()
    {
        ulong length = ReadVarint();
        if (length > (ulong)(_data.Length - _position))
        {
            throw new InvalidDataException($"length {length} at byte {_position} runs past the end ({_data.Length} bytes)");
        }
        return Take((int)length);
    }

    /// <summary>Reads a UTF-8 string.</summary>
    public string ReadString() => Encoding.UTF8.GetString(ReadBytes());

    /// <summary>Skips a field of the given wire type.</summary>
    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case Varint:
                ReadVarint();
                break;
            case Fixed64:
                Take(8);
                break;
            case LengthDelimited:
                ReadBytes();
                break;
            case Fixed32:
                Take(4);
                break;
            default:
                throw new InvalidDataException($"unsupported protobuf wire type {wireType} at byte {_position}");
        }
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _data.Length - _position)
        {
            throw new InvalidDataException($"truncated field at byte {_position}: {count} bytes needed, {_data.Length - _position} left");
        }
        var span = _data.Slice(_position, count);
        _position += count;
        return span;
    }
}
