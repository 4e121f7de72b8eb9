using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution;

/// <summary>The contrastive inputs of one step: aligned contrast targets, and prefixes/sources where they differ.</summary>
/// <param name="TargetIds">The aligned contrastive target of each row, [rows].</param>
/// <param name="PrefixIds">Right-padded contrastive prefixes, [rows, width]; null when they equal the original prefixes.</param>
/// <param name="PrefixMask">Their attention mask.</param>
/// <param name="LastIndex">The last real position of each contrastive prefix, [rows].</param>
/// <param name="SourceIds">Contrastive sources; null when they equal the original sources.</param>
/// <param name="SourceMask">Their attention mask.</param>
internal sealed record ContrastStep(Tensor TargetIds, Tensor? PrefixIds, Tensor? PrefixMask, Tensor? LastIndex, Tensor? SourceIds, Tensor? SourceMask);
