namespace InseqBridge.Native.Attribution;

/// <summary>
/// The results of one target position, on the host: for each active batch row, its flattened attributions and
/// step scores. Every execution path fills these; <see cref="AttributionOutputAssembler"/> turns them into outputs.
/// </summary>
internal sealed class StepRecord
{
    /// <summary>The attributed target position (the step).</summary>
    public required int Position { get; init; }

    /// <summary>The batch rows active at this step (not finished), in batch order.</summary>
    public required int[] Rows { get; init; }

    /// <summary>Per active row, source attributions [source positions x inner] flattened; null when not attributed.</summary>
    public float[][]? Source { get; set; }

    /// <summary>Per active row, target-prefix attributions [prefix positions x inner] flattened; null when not attributed.</summary>
    public float[][]? Target { get; set; }

    /// <summary>Step score id → one value per active row.</summary>
    public Dictionary<string, float[]> Scores { get; } = [];
}
