using InseqBridge.Native.Models;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution.Methods;

/// <summary>
/// What one attribution step offers a user method registered with <see cref="NativeAttributionMethods.Register"/>:
/// the attributed inputs (source embeddings of an encoder-decoder, then the target prefix embeddings when they are
/// attributed), their baselines, and the forward from attributed inputs to one attributed score per row.
/// Tensors are owned by the step's dispose scope.
/// </summary>
public sealed class NativeMethodContext
{
    private readonly GradientStepContext _step;

    internal NativeMethodContext(GradientStepContext step) => _step = step;

    /// <summary>The network.</summary>
    public TransformerLanguageModel Model => _step.Model;

    /// <summary>Attributed inputs: scaled token embeddings [rows, length, hidden].</summary>
    public IReadOnlyList<Tensor> Inputs => _step.Inputs;

    /// <summary>Token ids of each attributed input [rows, length].</summary>
    public IReadOnlyList<Tensor> Ids => _step.Ids;

    /// <summary>Scaled embeddings of the baseline (UNK) ids of every attributed input, shaped like <see cref="Inputs"/>.</summary>
    public IReadOnlyList<Tensor> Baselines() => _step.Baselines();

    /// <summary>The attributed function (one score per row) of <paramref name="inputs"/>, each shaped like the matching
    /// <see cref="Inputs"/> entry tiled <paramref name="repeat"/> times along dimension 0.</summary>
    public Tensor Forward(IReadOnlyList<Tensor> inputs, int repeat = 1) => _step.Forward(inputs, repeat, ForwardOptions.None);

    /// <summary>Cancels long computations between chunks.</summary>
    public CancellationToken Cancellation => _step.Cancellation;
}
