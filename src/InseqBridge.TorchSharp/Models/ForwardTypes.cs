using static TorchSharp.torch;

namespace InseqBridge.Native.Models;

/// <summary>Where an attention block sits in a model.</summary>
public enum AttentionSite
{
    /// <summary>Self-attention of a decoder (the only kind in decoder-only models).</summary>
    DecoderSelf,

    /// <summary>Self-attention of an encoder.</summary>
    EncoderSelf,

    /// <summary>Decoder-to-encoder cross-attention.</summary>
    Cross,
}

/// <summary>
/// Hook point on the value vectors of an attention block, called after the values are split into heads (and,
/// for grouped-query attention, repeated to every head): <paramref name="values"/> is [batch, heads, keys, head_dim].
/// Return the tensor to use instead (value zeroing sets a token's vectors to zero), or the input unchanged.
/// </summary>
public delegate Tensor ValueVectorHook(AttentionSite site, int layer, Tensor values);

/// <summary>
/// Hook on the feed-forward activation function: given the activation's name (as in the config, e.g. <c>relu</c>),
/// its input and the plain function, returns the activation output to use (DeepLIFT overrides the gradient of
/// some activations this way).
/// </summary>
public delegate Tensor ActivationHook(string activation, Tensor input, Func<Tensor, Tensor> apply);

/// <summary>Switches of a forward pass (as transformers' output_attentions / output_hidden_states).</summary>
public sealed record ForwardOptions
{
    /// <summary>No extra outputs.</summary>
    public static ForwardOptions None { get; } = new();

    /// <summary>Return attention probabilities of every layer ([batch, heads, queries, keys] each).</summary>
    public bool OutputAttentions { get; init; }

    /// <summary>Return hidden states: the embedding output and every layer's output (layers + 1 entries).</summary>
    public bool OutputHiddenStates { get; init; }

    /// <summary>
    /// Apply the language-model head to the last position only (<see cref="DecoderOutput.Logits"/> is then
    /// [batch, 1, vocab]): what attribution steps need, and much cheaper with large vocabularies.
    /// </summary>
    public bool LastPositionOnly { get; init; }

    /// <summary>
    /// Apply the language-model head to chosen positions of each row: an int64 tensor [batch, k] of positions
    /// (<see cref="DecoderOutput.Logits"/> is then [batch, k, vocab]). Batches of rows that end at different
    /// positions (padded on the right), or forwards of which only some steps are read, use it where
    /// <see cref="LastPositionOnly"/> cannot. Takes precedence over <see cref="LastPositionOnly"/>; the caller owns
    /// the tensor.
    /// </summary>
    public Tensor? HeadPositions { get; init; }

    /// <summary>
    /// Replaces the language-model head: given the final hidden states it would read ([batch, positions (or read
    /// positions), hidden]), returns what <see cref="DecoderOutput.Logits"/> holds. The fast attribution mode passes
    /// the identity and applies <see cref="TransformerLanguageModel.LanguageModelHead"/> itself, in cache-sized blocks.
    /// </summary>
    public Func<Tensor, Tensor>? Head { get; init; }

    /// <summary>A <see cref="Head"/> that returns the hidden states unchanged (the head is not applied).</summary>
    public static Func<Tensor, Tensor> HiddenStatesHead { get; } = static h => h.alias();

    /// <summary>Optional hook on value vectors (see <see cref="ValueVectorHook"/>).</summary>
    public ValueVectorHook? ValueHook { get; init; }

    /// <summary>Optional hook on feed-forward activations (see <see cref="ActivationHook"/>).</summary>
    public ActivationHook? ActivationHook { get; init; }

    /// <summary>
    /// Training-mode dropout (as transformers' <c>model.train()</c>): when set, every dropout site of the
    /// architecture is active with the rates of its config, and the keep masks (and layer-drop draws) come from this
    /// CPU generator, so a forward is reproducible for a given generator state. Null (the default) is eval mode: no
    /// dropout, and the forward is bit-identical to one without this option. Attention probabilities returned with
    /// <see cref="OutputAttentions"/> are the ones before attention dropout. The masks cannot match PyTorch's
    /// (different random-number consumption order), only their distribution does.
    /// </summary>
    public Generator? Dropout { get; init; }
}

/// <summary>The encoder's output.</summary>
/// <param name="LastHiddenState">[batch, source, hidden].</param>
/// <param name="Attentions">Per layer [batch, heads, source, source], when requested.</param>
/// <param name="HiddenStates">Embedding output then every layer's output, when requested.</param>
public sealed record EncoderOutput(Tensor LastHiddenState, IReadOnlyList<Tensor>? Attentions, IReadOnlyList<Tensor>? HiddenStates);

/// <summary>The decoder's (or a decoder-only model's) output.</summary>
/// <param name="Logits">[batch, positions, vocab].</param>
/// <param name="Attentions">Per layer self-attention [batch, heads, queries, keys], when requested.</param>
/// <param name="CrossAttentions">Per layer cross-attention [batch, heads, queries, source], encoder-decoders only.</param>
/// <param name="HiddenStates">Embedding output then every layer's output, when requested.</param>
public sealed record DecoderOutput(
    Tensor Logits,
    IReadOnlyList<Tensor>? Attentions,
    IReadOnlyList<Tensor>? CrossAttentions,
    IReadOnlyList<Tensor>? HiddenStates);

/// <summary>
/// Key/value cache of one generation call. Owns its tensors (detached from dispose scopes); dispose it when the
/// call ends.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Dictionary<(AttentionSite, int), (Tensor Key, Tensor Value)> _entries = [];

    /// <summary>Number of positions already processed by the decoder.</summary>
    public int Length { get; internal set; }

    internal bool TryGet(AttentionSite site, int layer, out (Tensor Key, Tensor Value) entry) =>
        _entries.TryGetValue((site, layer), out entry);

    internal void Set(AttentionSite site, int layer, Tensor key, Tensor value)
    {
        if (_entries.TryGetValue((site, layer), out var old))
        {
            if (!ReferenceEquals(old.Key, key))
            {
                old.Key.Dispose();
            }

            if (!ReferenceEquals(old.Value, value))
            {
                old.Value.Dispose();
            }
        }

        _entries[(site, layer)] = (key.DetachFromDisposeScope(), value.DetachFromDisposeScope());
    }

    /// <summary>Keeps only the given batch rows (finished sequences dropped).</summary>
    public void SelectRows(Tensor rowIndices)
    {
        foreach (var key in _entries.Keys.ToList())
        {
            var (k, v) = _entries[key];
            Tensor nk = k.index_select(0, rowIndices).DetachFromDisposeScope();
            Tensor nv = v.index_select(0, rowIndices).DetachFromDisposeScope();
            k.Dispose();
            v.Dispose();
            _entries[key] = (nk, nv);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var (k, v) in _entries.Values)
        {
            k.Dispose();
            v.Dispose();
        }

        _entries.Clear();
    }
}
