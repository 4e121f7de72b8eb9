using InseqBridge.Data;

namespace InseqBridge.Native.Attribution;

/// <summary>
/// Builds one sequence score of one batch row once its length is known.
/// </summary>
/// <param name="sequence">The batch row.</param>
/// <param name="sourceLength">Its source length without padding.</param>
/// <param name="steps">Its number of attributed steps.</param>
internal delegate NdArray SequenceScoreBuilder(int sequence, int sourceLength, int steps);

/// <summary>A per-sequence score an execution path adds to the output (e.g. encoder self-attention weights).</summary>
/// <param name="Name">The key in <see cref="FeatureAttributionSequenceOutput.SequenceScores"/>.</param>
/// <param name="Build">Its builder; it reads host arrays only.</param>
internal sealed record SequenceScore(string Name, SequenceScoreBuilder Build);
