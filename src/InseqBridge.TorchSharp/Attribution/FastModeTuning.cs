namespace InseqBridge.Native.Attribution;

/// <summary>
/// Scheduling knobs of <see cref="InseqBridge.Attribution.ExecutionMode.Fast"/> (results do not depend on them beyond
/// fp32 rounding). Null fields use the built-in choice; the environment variables <c>INSEQ_BRIDGE_FAST_BUDGET_MB</c>,
/// <c>INSEQ_BRIDGE_FAST_GROUPS</c> and <c>INSEQ_BRIDGE_FAST_BLOCK</c> set the process defaults.
/// </summary>
/// <param name="BudgetBytes">Memory the retained graph of one chunk of rows may use (default <see cref="DefaultBudgetBytes"/>).</param>
/// <param name="Groups">Step groups per row (replicas): 1 = one backward pass per step.</param>
/// <param name="Block">Decoder positions per forward block after the first.</param>
internal sealed record FastModeTuning(long? BudgetBytes = null, int? Groups = null, int? Block = null)
{
    /// <summary>
    /// Default memory budget of one chunk's retained graph (1 GiB): large enough that small and mid-size models
    /// attribute a batch in one or a few chunks, small enough to stay well inside a laptop's memory.
    /// </summary>
    public const long DefaultBudgetBytes = 1L << 30;

    /// <summary>Left shift from the MiB of <c>INSEQ_BRIDGE_FAST_BUDGET_MB</c> to bytes (2^20 bytes per MiB).</summary>
    private const int BytesPerMegabyteShift = 20;

    /// <summary>From the environment variables.</summary>
    public static FastModeTuning Default { get; } = new(
        Positive("INSEQ_BRIDGE_FAST_BUDGET_MB") is long mb ? mb << BytesPerMegabyteShift : null,
        (int?)Positive("INSEQ_BRIDGE_FAST_GROUPS"),
        (int?)Positive("INSEQ_BRIDGE_FAST_BLOCK"));

    private static long? Positive(string name) =>
        long.TryParse(Environment.GetEnvironmentVariable(name), out long value) && value > 0 ? value : null;
}
