using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace InseqBridge.Server;

/// <summary>
/// Graceful shutdown: when the host stops, in-flight attributions get <see cref="InseqBridgeServerOptions.ShutdownGrace"/>
/// to finish, then they are cancelled (their clients get 503), so the process never waits on a long request.
/// </summary>
public sealed class ShutdownCoordinator : IDisposable
{
    private readonly CancellationTokenSource _abort = new();
    private readonly CancellationTokenRegistration _registration;

    /// <summary>Creates the coordinator.</summary>
    public ShutdownCoordinator(IHostApplicationLifetime lifetime, IOptions<InseqBridgeServerOptions> options)
    {
        ArgumentNullException.ThrowIfNull(lifetime);
        ArgumentNullException.ThrowIfNull(options);
        TimeSpan grace = options.Value.ShutdownGrace;
        _registration = lifetime.ApplicationStopping.Register(() =>
        {
            IsStopping = true;
            try
            {
                _abort.CancelAfter(grace);
            }
            catch (ObjectDisposedException)
            {
                // Already disposed: nothing left to cancel.
            }
        });
    }

    /// <summary>Cancelled when the shutdown grace period is over.</summary>
    public CancellationToken Token => _abort.Token;

    /// <summary>True once the host is stopping.</summary>
    public bool IsStopping { get; private set; }

    /// <inheritdoc />
    public void Dispose()
    {
        _registration.Dispose();
        _abort.Dispose();
    }
}
