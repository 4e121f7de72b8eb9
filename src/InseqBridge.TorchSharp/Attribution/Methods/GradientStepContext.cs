using InseqBridge.Native.Models;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution.Methods;

/// <summary>
/// What one attribution step offers a gradient method: the attributed inputs (source embeddings of an
/// encoder-decoder, then the target prefix embeddings when they are attributed), their token and baseline ids, and
/// the forward function from attributed inputs to one attributed score per row.
/// </summary>
internal sealed class GradientStepContext
{
    /// <summary>Forward: attributed inputs (each [rows x repeat, ...]) → one score per row. The non-attributed
    /// inputs are tiled <c>repeat</c> times along dimension 0 (copies one after the other, as Captum's repeat).</summary>
    public delegate Tensor ForwardFunction(IReadOnlyList<Tensor> inputs, int repeat, ForwardOptions options);

    /// <summary>The network.</summary>
    public required TransformerLanguageModel Model { get; init; }

    /// <summary>Attributed inputs: scaled token embeddings [rows, length, hidden].</summary>
    public required IReadOnlyList<Tensor> Inputs { get; init; }

    /// <summary>Token ids of each attributed input [rows, length].</summary>
    public required IReadOnlyList<Tensor> Ids { get; init; }

    /// <summary>Baseline ids of each attributed input [rows, length] (UNK, EOS kept unless include_eos_baseline).</summary>
    public required IReadOnlyList<Tensor> BaselineIds { get; init; }

    /// <summary>For each attributed input, whether it feeds the encoder.</summary>
    public required IReadOnlyList<bool> EncoderSide { get; init; }

    /// <summary>The forward function.</summary>
    public required ForwardFunction Forward { get; init; }

    /// <summary>State of the whole call (random streams, caches).</summary>
    public required AttributionCallState State { get; init; }

    /// <summary>Whether a token id is one of the tokenizer's special tokens.</summary>
    public required Func<int, bool> IsSpecial { get; init; }

    /// <summary>True when the target prefix is attributed on an encoder-decoder.</summary>
    public required bool AttributeTarget { get; init; }

    /// <summary>Cancels long computations (integrated gradients' chunks).</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>Scaled embeddings of the baseline ids of input <paramref name="i"/>.</summary>
    public Tensor BaselineEmbeddings(int i) =>
        EncoderSide[i] ? Model.EmbedEncoderTokens(BaselineIds[i]) : Model.EmbedDecoderTokens(BaselineIds[i]);

    /// <summary>Scaled embeddings of all baselines.</summary>
    public IReadOnlyList<Tensor> Baselines() => Enumerable.Range(0, Inputs.Count).Select(BaselineEmbeddings).ToList();

    /// <summary>The forward as <see cref="GradientAttributor.ForwardFunction"/> (no hooks).</summary>
    public GradientAttributor.ForwardFunction Plain => (x, repeat) => Forward(x, repeat, ForwardOptions.None);
}
