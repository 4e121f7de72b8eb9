namespace InseqBridge.Native.Attribution;

/// <summary>
/// One way of computing the steps of a batch (per-step, fast, final-step methods, value zeroing); every path
/// yields the same host-side step records, which <see cref="AttributionOutputAssembler"/> turns into outputs.
/// </summary>
internal interface IStepExecution
{
    /// <summary>Attributes the steps <paramref name="start"/> .. <paramref name="iterEnd"/> - 1.</summary>
    /// <param name="start">First attributed target position.</param>
    /// <param name="iterEnd">One past the last position to compute.</param>
    /// <param name="stepDone">Receives the number of steps finished (paths that compute all steps at once may not report).</param>
    /// <param name="cancellationToken">Cancels between steps or chunks.</param>
    StepExecutionResult Execute(int start, int iterEnd, IProgress<int>? stepDone, CancellationToken cancellationToken);
}
