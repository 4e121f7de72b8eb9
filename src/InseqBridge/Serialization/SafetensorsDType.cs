namespace InseqBridge.Serialization;

/// <summary>Element types supported by <see cref="SafetensorsFormat"/> (names as in the safetensors header).</summary>
public enum SafetensorsDType
{
    /// <summary>32-bit float, <c>F32</c>.</summary>
    F32,

    /// <summary>16-bit IEEE half float, <c>F16</c>.</summary>
    F16,

    /// <summary>bfloat16, <c>BF16</c>.</summary>
    BF16,

    /// <summary>8-bit float e4m3fn, <c>F8_E4M3</c>.</summary>
    F8_E4M3,

    /// <summary>64-bit signed integer, <c>I64</c>.</summary>
    I64,
}
