namespace InseqBridge.Serialization;

/// <summary>
/// Conversions between float32 and the 8-bit float <c>e4m3fn</c> (1 sign, 4 exponent bits with bias 7, 3 mantissa
/// bits, no infinities, NaN = all exponent and mantissa bits set). The float32 → e4m3fn direction reproduces
/// PyTorch's <c>tensor.to(torch.float8_e4m3fn)</c> bit for bit: round to nearest even, and magnitudes that round
/// past the largest finite value (448) become NaN, as in torch's plain cast, so files match Inseq's.
/// </summary>
public static class Float8E4M3
{
    /// <summary>Encodes one value.</summary>
    public static byte FromSingle(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint sign = bits & 0x8000_0000u;
        bits ^= sign;
        byte result;

        // 480 = first magnitude that no longer rounds to 448; everything from there on (and inf/NaN) is NaN.
        const uint Fp8MaxBits = 1087u << 20;
        const uint MinNormalBits = 121u << 23; // 2^-6, the smallest normal e4m3 value
        if (bits >= Fp8MaxBits)
        {
            result = 0x7F;
        }
        else if (bits < MinNormalBits)
        {
            // Adding 2^-6 * 2^... aligns the subnormal mantissa so the FPU performs the round-to-nearest-even.
            const uint DenormMagicBits = 141u << 23;
            float shifted = BitConverter.UInt32BitsToSingle(bits) + BitConverter.UInt32BitsToSingle(DenormMagicBits);
            result = (byte)(BitConverter.SingleToUInt32Bits(shifted) - DenormMagicBits);
        }
        else
        {
            uint mantissaOdd = (bits >> 20) & 1;
            bits += unchecked((uint)((7 - 127) << 23)) + 0x7FFFF;
            bits += mantissaOdd;
            result = (byte)(bits >> 20);
        }

        return (byte)(result | (sign >> 24));
    }

    /// <summary>Decodes one value.</summary>
    public static float ToSingle(byte value)
    {
        bool negative = (value & 0x80) != 0;
        int exponent = (value >> 3) & 0xF;
        int mantissa = value & 0x7;
        float magnitude;
        if (exponent == 0xF && mantissa == 0x7)
        {
            return float.NaN;
        }

        magnitude = exponent == 0
            ? mantissa * MathF.Pow(2, -9)
            : (1 + (mantissa / 8f)) * MathF.Pow(2, exponent - 7);
        return negative ? -magnitude : magnitude;
    }
}
