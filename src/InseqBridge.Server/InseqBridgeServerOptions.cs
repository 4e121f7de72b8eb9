using InseqBridge.Attribution;

namespace InseqBridge.Server;

/// <summary>
/// Configuration of the attribution service (<see cref="InseqBridgeServiceCollectionExtensions.AddInseqBridge"/>).
/// Models are addressed by <see cref="Models"/> name only: a request can never name a path.
/// </summary>
public sealed class InseqBridgeServerOptions
{
    /// <summary>Configured models: NAME (letters, digits, <c>.</c>, <c>_</c>, <c>-</c>) to checkpoint folder.</summary>
    public IDictionary<string, string> Models { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Attributions that run at once (default: one per two cores, at least one).</summary>
    public int MaxConcurrency { get; set; } = DefaultConcurrency;

    /// <summary>Requests that may wait for a free slot; beyond them a request gets 429 with Retry-After (default 16).</summary>
    public int QueueLength { get; set; } = 16;

    /// <summary>Accepted API keys (empty: no key needed). Sent as <c>Authorization: Bearer KEY</c> or <c>X-API-Key: KEY</c>.</summary>
    public IList<string> ApiKeys { get; } = [];

    /// <summary>Per-request caps; a request beyond one gets 400 (413 for the body size) naming the limit.</summary>
    public ServerLimits Limits { get; set; } = new();

    /// <summary>
    /// Loads a configured model (arguments: NAME and folder). Default: the native backend,
    /// <see cref="InseqBridge.Native.Attribution.NativeAttributionModel.Load"/>, recording the folder as
    /// given as <c>model_name</c> (so results equal those of <c>inseq-bridge attribute --model DIR</c>).
    /// </summary>
    public Func<string, string, IAttributionModel>? ModelLoader { get; set; }

    /// <summary>On shutdown, how long in-flight attributions may run before they are cancelled (default 10 s).</summary>
    public TimeSpan ShutdownGrace { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The default of <see cref="MaxConcurrency"/>: one attribution per two cores, at least one.</summary>
    public static int DefaultConcurrency => Math.Max(1, Environment.ProcessorCount / 2);
}

/// <summary>Server-side caps on one request. Each is named in the error a request beyond it gets.</summary>
public sealed record ServerLimits
{
    /// <summary><c>max_input_tokens</c>: tokens of each input text and of each forced output (default 512).</summary>
    public int MaxInputTokens { get; init; } = 512;

    /// <summary><c>max_new_tokens</c>: the largest <c>max_new_tokens</c> a request may ask for (default 64).</summary>
    public int MaxNewTokens { get; init; } = 64;

    /// <summary><c>max_n_steps</c>: the largest <c>n_steps</c> (integrated-gradient points) and <c>n_samples</c> in
    /// <c>attribution_args</c> (default 100).</summary>
    public int MaxSteps { get; init; } = 100;

    /// <summary><c>max_batch_size</c>: input texts per request, and the largest <c>batch_size</c> (default 8).</summary>
    public int MaxBatchSize { get; init; } = 8;

    /// <summary><c>max_body_bytes</c>: request body size; beyond it 413 (default 1 MiB).</summary>
    public long MaxBodyBytes { get; init; } = 1 << 20;
}
