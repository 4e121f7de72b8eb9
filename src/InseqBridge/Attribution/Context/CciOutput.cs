namespace InseqBridge.Attribution.Context;

/// <summary>Contextual cues imputation for one context-sensitive token (Inseq's <c>CCIOutput</c>).</summary>
/// <param name="CtiIdx">Index of the token in <see cref="AttributeContextOutput.OutputCurrentTokens"/>.</param>
/// <param name="CtiToken">The token as the attribution stored it.</param>
/// <param name="CtiScore">Its context sensitivity score.</param>
/// <param name="ContextualOutput">The output up to the token, with its contexts, that was attributed.</param>
/// <param name="ContextlessOutput">The contrastive contextless output (contrastive attributed functions), or null.</param>
/// <param name="InputContextScores">One score per input context token, or null without input context.</param>
/// <param name="OutputContextScores">One score per output context token, or null without output context.</param>
public sealed record CciOutput(
    int CtiIdx,
    string CtiToken,
    double CtiScore,
    string ContextualOutput,
    string? ContextlessOutput,
    IReadOnlyList<double>? InputContextScores,
    IReadOnlyList<double>? OutputContextScores);
