using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution.Methods;

/// <summary>
/// State shared by every step and batch of one attribution call. Random streams are seeded once, as Python's
/// <c>transformers.set_seed(seed)</c> seeds NumPy's and torch's global generators before <c>model.attribute</c>:
/// stochastic methods draw from them step after step, batch after batch, so a call with the same seed gives the
/// same result. Also caches work that does not change between steps (discretized IG paths).
/// </summary>
internal sealed class AttributionCallState(long seed) : IDisposable
{
    private Generator? _torch;

    /// <summary>The seed.</summary>
    public long Seed { get; } = seed;

    /// <summary>NumPy's legacy generator (seeded with the low 32 bits: NumPy takes 32-bit seeds).</summary>
    public NumpyRandomState Numpy { get; } = new((uint)(seed & 0xffffffffL));

    /// <summary>A CPU torch generator seeded like <c>torch.manual_seed(seed)</c> (created on first use).</summary>
    public Generator Torch => _torch ??= new Generator(unchecked((ulong)Seed));

    /// <summary>Monotonic path builder of discretized IG (created on first use).</summary>
    public MonotonicPathBuilder? PathBuilder { get; set; }

    /// <inheritdoc />
    public void Dispose() => _torch?.Dispose();
}
