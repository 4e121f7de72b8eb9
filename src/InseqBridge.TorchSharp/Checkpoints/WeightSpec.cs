using InseqBridge.Errors;

namespace InseqBridge.Native.Checkpoints;

/// <summary>
/// One weight an architecture reads: its checkpoint key and shape. Each architecture declares the list for a
/// config (see <see cref="Models.TransformerLanguageModel.DeclaredWeights"/>); the loader checks the checkpoint
/// against it before reading any data and loads only these weights.
/// </summary>
/// <param name="Name">Checkpoint key, e.g. <c>model.layers.0.self_attn.q_proj.weight</c>.</param>
/// <param name="Shape">Shape the architecture reads, e.g. [heads * head_dim, hidden].</param>
/// <param name="Optional">Read when present (checked then), ignored when absent.</param>
public sealed record WeightSpec(string Name, long[] Shape, bool Optional = false)
{
    /// <summary>A required weight.</summary>
    public static WeightSpec Of(string name, params long[] shape) => new(name, shape);

    /// <summary>
    /// Checks every declared weight against what the checkpoint holds, in declaration order; throws for the first
    /// missing required key, shape mismatch or non-floating-point dtype.
    /// </summary>
    /// <param name="declared">The architecture's weights.</param>
    /// <param name="stored">Checkpoint key → (safetensors dtype such as F32/BF16, shape, file it is in).</param>
    /// <param name="modelClass">Architecture named in messages.</param>
    /// <exception cref="CheckpointException">The first problem, naming the key.</exception>
    public static void Validate(
        IReadOnlyList<WeightSpec> declared, IReadOnlyDictionary<string, (string Dtype, long[] Shape, string Source)> stored, string modelClass)
    {
        foreach (WeightSpec spec in declared)
        {
            if (!stored.TryGetValue(spec.Name, out var found))
            {
                if (spec.Optional)
                {
                    continue;
                }

                string source = stored.Count > 0 ? stored.Values.First().Source : "the checkpoint";
                throw new CheckpointException(
                    $"The checkpoint has no weight '{spec.Name}' (shape [{Format(spec.Shape)}]) that {modelClass} reads " +
                    $"(looked in {source}). The checkpoint is incomplete or config.json describes another architecture: re-download it or fix config.json.");
            }

            if (!found.Shape.SequenceEqual(spec.Shape))
            {
                throw new CheckpointException(
                    $"Weight '{spec.Name}' in {found.Source} has shape [{Format(found.Shape)}] but {modelClass} with this config.json reads " +
                    $"[{Format(spec.Shape)}]. config.json does not match the weights (hidden size, heads, vocabulary...): fix one or the other.");
            }

            if (found.Dtype is not ("F32" or "F16" or "BF16" or "F64"))
            {
                throw new CheckpointException(
                    $"Weight '{spec.Name}' in {found.Source} has dtype {found.Dtype}; {modelClass} needs a floating-point weight (F32, F16, BF16). " +
                    "Quantized checkpoints are not supported natively: use the unquantized weights.");
            }
        }
    }

    private static string Format(long[] shape) => string.Join(", ", shape);
}
