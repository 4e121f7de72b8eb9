namespace InseqBridge.Native.Attribution;

/// <summary>What an execution path returns: the step records, the trailing attribution shape, and extra sequence scores.</summary>
/// <param name="Records">One record per attributed step, in step order.</param>
/// <param name="InnerShape">Trailing dimensions of one attribution entry ([hidden], [layers, heads], [layers], or none); null when nothing was attributed.</param>
/// <param name="SequenceScores">Per-sequence scores, in output order.</param>
internal sealed record StepExecutionResult(IReadOnlyList<StepRecord> Records, int[]? InnerShape, IReadOnlyList<SequenceScore> SequenceScores);
