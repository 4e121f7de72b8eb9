using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution;

/// <summary>The model inputs of one step for its active rows.</summary>
/// <param name="TargetIds">The token each row predicts at this step, [rows].</param>
/// <param name="PrefixIds">The target prefix before the step, [rows, step].</param>
/// <param name="PrefixMask">Its attention mask, [rows, step].</param>
/// <param name="PrefixEmbeds">Its decoder embeddings, [rows, step, hidden].</param>
/// <param name="SourceIds">Encoder input ids, [rows, source width] (encoder-decoders only).</param>
/// <param name="SourceMask">Their attention mask (encoder-decoders only).</param>
/// <param name="SourceEmbeds">Their encoder embeddings, [rows, source width, hidden] (encoder-decoders only).</param>
internal sealed record StepInputs(
    Tensor TargetIds, Tensor PrefixIds, Tensor PrefixMask, Tensor PrefixEmbeds, Tensor? SourceIds, Tensor? SourceMask, Tensor? SourceEmbeds);
