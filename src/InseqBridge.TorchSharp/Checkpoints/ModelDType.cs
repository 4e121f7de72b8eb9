using InseqBridge.Errors;
using static TorchSharp.torch;

namespace InseqBridge.Native.Checkpoints;

/// <summary>
/// The precision the native backend keeps the weights in and computes with. Floating-point weights are converted
/// to it when the checkpoint loads (bf16/fp16 files upcast exactly to <see cref="Float32"/>, as transformers'
/// <c>from_pretrained(torch_dtype=torch.float32)</c> does).
/// </summary>
public enum ModelDType
{
    /// <summary>float32 (default): the numbers match transformers' default load and Python Inseq.</summary>
    Float32,

    /// <summary>bfloat16: half the memory of float32; logits move by about 1e-2 (see the README).</summary>
    BFloat16,

    /// <summary>float16: half the memory of float32; a narrower range than bfloat16.</summary>
    Float16,
}

/// <summary>Conversions of <see cref="ModelDType"/>.</summary>
public static class ModelDTypes
{
    /// <summary>The names accepted by <see cref="Parse"/> (and the CLI's <c>--dtype</c>).</summary>
    public static IReadOnlyList<string> Names { get; } = ["float32", "bfloat16", "float16"];

    /// <summary>The TorchSharp scalar type.</summary>
    public static ScalarType ToScalarType(this ModelDType dtype) => dtype switch
    {
        ModelDType.BFloat16 => ScalarType.BFloat16,
        ModelDType.Float16 => ScalarType.Float16,
        _ => ScalarType.Float32,
    };

    /// <summary>The name as torch spells it (<c>float32</c>, <c>bfloat16</c>, <c>float16</c>).</summary>
    public static string ToName(this ModelDType dtype) => Names[(int)dtype];

    /// <summary>Parses <c>float32</c>, <c>bfloat16</c> or <c>float16</c> (also <c>fp32</c>, <c>bf16</c>, <c>fp16</c>, <c>half</c>).</summary>
    /// <exception cref="InvalidRequestException">Another name.</exception>
    public static ModelDType Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" or "float" => ModelDType.Float32,
        "bfloat16" or "bf16" => ModelDType.BFloat16,
        "float16" or "fp16" or "half" => ModelDType.Float16,
        _ => throw new InvalidRequestException($"Unknown dtype '{name}': use one of {string.Join(", ", Names)}."),
    };
}
