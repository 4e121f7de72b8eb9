namespace InseqBridge.Attribution.Context;

/// <summary>
/// What <see cref="AttributeContextRequest.AskOutputContext"/> is asked when the model generated the output context
/// together with the current output (<see cref="OutputContextStrategy.Manual"/>).
/// </summary>
/// <param name="GeneratedOutput">The whole generated output.</param>
/// <param name="Candidate">The automatically found context (a prefix of the output), or null when none was found.</param>
public sealed record OutputContextQuestion(string GeneratedOutput, string? Candidate);
