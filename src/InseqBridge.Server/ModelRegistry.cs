using System.Text.RegularExpressions;
using InseqBridge.Attribution;
using InseqBridge.Native.Attribution;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace InseqBridge.Server;

/// <summary>
/// The configured models, loaded once in the background when the host starts (<c>/readyz</c> answers 503 until
/// every one is loaded) and disposed when it stops. Looked up by NAME only.
/// </summary>
public sealed partial class ModelRegistry : IHostedService, IDisposable
{
    private readonly InseqBridgeServerOptions _options;
    private readonly ILogger<ModelRegistry> _logger;
    private readonly Dictionary<string, IAttributionModel> _models = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile Exception? _failure;

    /// <summary>Creates the registry (models load in <see cref="StartAsync"/>).</summary>
    public ModelRegistry(IOptions<InseqBridgeServerOptions> options, ILogger<ModelRegistry> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _logger = logger;
        foreach (string name in _options.Models.Keys)
        {
            if (!NamePattern().IsMatch(name))
            {
                throw new ArgumentException($"Model name '{name}' is not allowed: use letters, digits, '.', '_' and '-' (at most 64).");
            }
        }
    }

    /// <summary>True once every configured model is loaded.</summary>
    public bool IsReady => _ready.Task.IsCompletedSuccessfully;

    /// <summary>Why loading failed (null while loading or after success).</summary>
    public Exception? Failure => _failure;

    /// <summary>Completes when every model is loaded; faults with the load error.</summary>
    public Task WhenReady => _ready.Task;

    /// <summary>The configured names, in configuration order.</summary>
    public IReadOnlyList<string> Names => [.. _options.Models.Keys];

    /// <summary>The loaded model called <paramref name="name"/>, or null (unknown, or not loaded yet).</summary>
    public IAttributionModel? Find(string name)
    {
        lock (_models)
        {
            return _models.GetValueOrDefault(name);
        }
    }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = Task.Run(LoadAll, CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_models)
        {
            foreach (IAttributionModel model in _models.Values)
            {
                model.Dispose();
            }

            _models.Clear();
        }
    }

    private void LoadAll()
    {
        try
        {
            // Spot for process-wide native runtime setup before the first model loads (e.g. the OpenMP wait policy
            // of the native backend); see NativeRuntimeSetup.
            NativeRuntimeSetup.Apply();
            foreach (var (name, directory) in _options.Models)
            {
                var watch = System.Diagnostics.Stopwatch.StartNew();
                IAttributionModel model = _options.ModelLoader is { } loader ? loader(name, directory) : NativeAttributionModel.Load(directory);
                lock (_models)
                {
                    _models[name] = model;
                }

                LogLoaded(_logger, name, model.Info.ModelClass, watch.Elapsed.TotalSeconds);
            }

            _ready.TrySetResult();
        }
        catch (Exception e)
        {
            _failure = e;
            LogLoadFailed(_logger, e.Message);
            _ready.TrySetException(e);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex NamePattern();

    [LoggerMessage(Level = LogLevel.Information, Message = "model {Name} loaded ({ModelClass}) in {Seconds:F1} s")]
    private static partial void LogLoaded(ILogger logger, string name, string modelClass, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "loading the models failed: {Message}")]
    private static partial void LogLoadFailed(ILogger logger, string message);
}
