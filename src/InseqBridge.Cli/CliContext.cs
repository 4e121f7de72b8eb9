using System.Diagnostics;
using System.Globalization;

namespace InseqBridge.Cli;

/// <summary>
/// What one run of the command line shares with its commands: the cancellation token that Ctrl+C (or a host)
/// cancels, and where progress goes. Held in an <see cref="AsyncLocal{T}"/>, so in-process runs (tests, hosts) on
/// different threads do not see each other's.
/// </summary>
public static class CliContext
{
    private static readonly AsyncLocal<Session?> Current = new();

    /// <summary>The current run's cancellation token (Ctrl+C on the process console); none outside a run.</summary>
    public static CancellationToken Token => Current.Value?.Token ?? CancellationToken.None;

    /// <summary>Starts a run's context; dispose it when the run ends.</summary>
    /// <param name="token">Cancels the run's work.</param>
    /// <param name="progress">Where progress lines go (a terminal's stderr), or null for none.</param>
    /// <param name="interval">How often progress is refreshed (at most a second for Ctrl+C feedback).</param>
    internal static IDisposable Begin(CancellationToken token, TextWriter? progress, TimeSpan interval)
    {
        Session? previous = Current.Value;
        Current.Value = new Session(token, progress, interval);
        return new Restore(() => Current.Value = previous);
    }

    /// <summary>
    /// Shows that long work is alive: every <c>interval</c> (a second on a terminal) the progress writer gets
    /// "<paramref name="label"/> … Ns (Ctrl+C stops)" plus the latest <see cref="Heartbeat.Report"/> text, so a huge request
    /// (millions of integration steps, a big model) never looks hung. Dispose to stop; nothing is printed for work
    /// that ends within the first interval.
    /// </summary>
    public static Heartbeat Working(string label)
    {
        ArgumentNullException.ThrowIfNull(label);
        Session? session = Current.Value;
        return new Heartbeat(label, session?.Progress, session?.Interval ?? TimeSpan.FromSeconds(1));
    }

    private sealed record Session(CancellationToken Token, TextWriter? Progress, TimeSpan Interval);

    private sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }

    /// <summary>A running progress line; see <see cref="Working"/>.</summary>
    public sealed class Heartbeat : IDisposable
    {
        private readonly string _label;
        private readonly TextWriter? _writer;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly Timer? _timer;
        private readonly Lock _gate = new();
        private string? _detail;
        private bool _printed;
        private bool _stopped;

        internal Heartbeat(string label, TextWriter? writer, TimeSpan interval)
        {
            _label = label;
            _writer = writer;
            if (writer is not null)
            {
                _timer = new Timer(_ => Tick(), null, interval, interval);
            }
        }

        /// <summary>Updates the detail shown after the elapsed time (e.g. "input 2/5").</summary>
        public void Report(string detail)
        {
            lock (_gate)
            {
                _detail = detail;
            }
        }

        /// <summary>Stops the line and clears it.</summary>
        public void Dispose()
        {
            _timer?.Dispose();
            lock (_gate)
            {
                if (_stopped)
                {
                    return;
                }

                _stopped = true;
                if (_printed && _writer is not null)
                {
                    _writer.Write("\r\u001b[K");
                    _writer.Flush();
                }
            }
        }

        private void Tick()
        {
            lock (_gate)
            {
                if (_stopped || _writer is null)
                {
                    return;
                }

                string detail = _detail is null ? string.Empty : $"  {_detail}";
                _writer.Write(string.Create(
                    CultureInfo.InvariantCulture,
                    $"\r\u001b[K{_label} … {_clock.Elapsed.TotalSeconds:0}s{detail}  (Ctrl+C stops)"));
                _writer.Flush();
                _printed = true;
            }
        }
    }
}
