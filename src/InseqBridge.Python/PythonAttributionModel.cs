using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Errors;
using InseqBridge.Serialization;

namespace InseqBridge.Python;

/// <summary>
/// A model loaded in real Python Inseq (<c>inseq.load_model</c>), behind the same <see cref="IAttributionModel"/> as the
/// native backend: the typed request is mapped to <c>model.attribute(...)</c> keyword arguments
/// (<see cref="InseqCallArguments.ToKwargs(AttributionRequest, AttributionMethod)"/>), and Inseq's saved JSON comes back as one buffer and is read into the same
/// <see cref="FeatureAttributionOutput"/>. If the worker is restarted (after a crash, a timeout or a cancellation that
/// had to kill it), the model is loaded again on the next call.
/// </summary>
public sealed class PythonAttributionModel : IAttributionModel
{
    private readonly PythonBackend _backend;
    private readonly bool _ownsBackend;
    private readonly string _handle;
    private readonly LoadArguments _load;
    private bool _disposed;
    private string? _inseqVersion;

    internal PythonAttributionModel(PythonBackend backend, string model, AttributionMethod method, JsonObject loadArguments, bool ownsBackend = false)
    {
        _backend = backend;
        _ownsBackend = ownsBackend;
        _handle = backend.NewHandle();
        DefaultMethod = method;
        _load = new LoadArguments(_handle, model, method.Id, (JsonObject)loadArguments.DeepClone());
        PythonReply reply = backend.Call(WorkerOperation.Load, WorkerJson.ToNode(_load), [], CancellationToken.None);
        LoadResult result = WorkerJson.Read<LoadResult>(reply.Result, "load_model result");
        Info = new ModelInfo(result.ModelName ?? model, result.ModelClass ?? string.Empty, result.TokenizerName, result.TokenizerClass ?? string.Empty);
        IsEncoderDecoder = result.IsEncoderDecoder;
    }

    /// <summary>
    /// Starts a Python backend of its own (see <see cref="PythonBackend.Start"/>) and loads <paramref name="model"/> in it;
    /// disposing the model stops that backend.
    /// </summary>
    /// <param name="model">Checkpoint folder or Hub id.</param>
    /// <param name="method">Default method (null: saliency).</param>
    /// <param name="options">Backend options (Python location, worker or in-process, limits).</param>
    /// <param name="loadArguments">Extra <c>inseq.load_model</c> keyword arguments (e.g. <c>{"tokenizer_kwargs": {"use_fast": false}}</c>).</param>
    public static PythonAttributionModel Load(string model, AttributionMethod? method = null, PythonBackendOptions? options = null, JsonObject? loadArguments = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        PythonBackend backend = PythonBackend.Start(options);
        try
        {
            return new PythonAttributionModel(backend, model, method ?? new Saliency(), loadArguments ?? [], ownsBackend: true);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public ModelInfo Info { get; }

    /// <inheritdoc />
    public AttributionMethod DefaultMethod { get; }

    /// <inheritdoc />
    public bool IsEncoderDecoder { get; }

    /// <summary>The backend this model lives in.</summary>
    public PythonBackend Backend => _backend;

    /// <inheritdoc />
    public async Task<FeatureAttributionOutput> AttributeAsync(
        AttributionRequest request,
        IProgress<AttributionProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (request.InputTexts.Count == 0)
        {
            throw new InvalidInputException("No input texts were given.");
        }

        AttributionMethod method = request.Method ?? DefaultMethod;
        string? inseqVersion = request.SkipSpecialTokens || request.CleanSpecialChars ? InseqVersion() : null;
        JsonObject kwargs = InseqCallArguments.ToKwargs(request, method, inseqVersion);
        if (method.Id != DefaultMethod.Id)
        {
            kwargs["method"] = method.Id;
        }

        var args = new AttributeArguments(_handle, kwargs, request.Generation.Seed, _load);
        PythonReply reply = await _backend.CallAsync(WorkerOperation.Attribute, WorkerJson.ToNode(args), [], cancellationToken).ConfigureAwait(false);
        FeatureAttributionOutput output = InseqJson.Parse(Encoding.UTF8.GetString(reply.Body), "Python Inseq output");
        int steps = output.SequenceAttributions.Sum(s => s.StepCount);
        progress?.Report(new AttributionProgress(steps, steps));
        return output;
    }

    /// <summary>Inseq's version in the backend, asked once (null when the probe does not report it).</summary>
    private string? InseqVersion() =>
        _inseqVersion ??= _backend.Probe(["inseq"]).Modules.GetValueOrDefault("inseq") ?? string.Empty;

    /// <inheritdoc />
    public FeatureAttributionOutput Attribute(AttributionRequest request, CancellationToken cancellationToken = default) =>
        AttributeAsync(request, null, cancellationToken).GetAwaiter().GetResult();

    /// <summary>Forgets the model in Python; stops the backend when this model started it.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            if (!_ownsBackend)
            {
                _backend.Call(WorkerOperation.Unload, WorkerJson.ToNode(new UnloadArguments(_handle)), [], CancellationToken.None);
            }
        }
        catch (PythonBackendException)
        {
            // The worker may be gone; nothing to release then.
        }
        finally
        {
            if (_ownsBackend)
            {
                _backend.Dispose();
            }
        }
    }
}

/// <summary>
/// An Inseq attribution method passed through by id to the Python backend (any method Inseq knows, e.g.
/// <c>deeplift</c>, <c>lime</c>, <c>value_zeroing</c>), with its keyword arguments.
/// </summary>
/// <param name="MethodId">Inseq's id.</param>
/// <param name="Args">Keyword arguments passed to <c>model.attribute</c>.</param>
public sealed record InseqMethod(string MethodId, IReadOnlyDictionary<string, object?> Args) : AttributionMethod
{
    /// <inheritdoc />
    public override string Id => MethodId;

    /// <inheritdoc />
    public override bool IsFinalStepMethod => MethodId is "attention" or "value_zeroing";

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments => Args;

    /// <summary>
    /// The typed method when the core knows <paramref name="id"/> (<see cref="AttributionMethod.FromId"/>), otherwise a
    /// pass-through <see cref="InseqMethod"/> whose K=V values are read as int, float, bool or string.
    /// </summary>
    public static AttributionMethod Resolve(string id, IReadOnlyDictionary<string, string>? args = null)
    {
        ArgumentNullException.ThrowIfNull(id);
        args ??= new Dictionary<string, string>();
        bool passThrough = !AttributionMethod.KnownIds.Contains(id)
            || (args.TryGetValue("return_convergence_delta", out string? delta) && delta.Equals("true", StringComparison.OrdinalIgnoreCase));
        return passThrough
            ? new InseqMethod(id, args.ToDictionary(kv => kv.Key, kv => ParseValue(kv.Value)))
            : AttributionMethod.FromId(id, args);
    }

    internal static object? ParseValue(string text)
    {
        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long l))
        {
            return l;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d))
        {
            return d;
        }

        return text.ToLowerInvariant() switch
        {
            "true" => true,
            "false" => false,
            "none" or "null" => null,
            _ => text,
        };
    }
}

/// <summary>An Inseq step function passed through by id to the Python backend (e.g. <c>kl_divergence</c>), with its arguments.</summary>
/// <param name="FunctionId">Inseq's id.</param>
/// <param name="Args">Arguments (sent in <c>step_scores_args</c> / <c>attributed_fn_args</c>).</param>
public sealed record InseqStepFunction(string FunctionId, IReadOnlyDictionary<string, object?> Args) : StepFunction
{
    /// <inheritdoc />
    public override string Id => FunctionId;

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments => Args;

    /// <summary>The typed step function when the core implements <paramref name="id"/>, otherwise a pass-through.</summary>
    public static StepFunction Resolve(string id, IReadOnlyDictionary<string, string>? args = null)
    {
        ArgumentNullException.ThrowIfNull(id);
        args ??= new Dictionary<string, string>();
        try
        {
            return StepFunction.FromId(id, args);
        }
        catch (InvalidRequestException)
        {
            return new InseqStepFunction(id, args.ToDictionary(kv => kv.Key, kv => InseqMethod.ParseValue(kv.Value)));
        }
    }
}
