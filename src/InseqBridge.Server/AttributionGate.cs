using System.Diagnostics;

namespace InseqBridge.Server;

/// <summary>
/// Admission control: at most <see cref="MaxConcurrency"/> attributions run at once and at most
/// <see cref="QueueLength"/> wait; a request beyond both is refused at once (429) with a Retry-After estimated from
/// recent durations.
/// </summary>
public sealed class AttributionGate : IDisposable
{
    private readonly SemaphoreSlim _slots;
    private readonly int _capacity;
    private int _admitted;
    private int _running;
    private double _meanSeconds = 1.0;

    /// <summary>Creates the gate.</summary>
    public AttributionGate(int maxConcurrency, int queueLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConcurrency, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(queueLength);
        MaxConcurrency = maxConcurrency;
        QueueLength = queueLength;
        _slots = new SemaphoreSlim(maxConcurrency, maxConcurrency);
        _capacity = maxConcurrency + queueLength;
    }

    /// <summary>Attributions allowed at once.</summary>
    public int MaxConcurrency { get; }

    /// <summary>Requests allowed to wait.</summary>
    public int QueueLength { get; }

    /// <summary>Attributions running now.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>Requests admitted and waiting for a slot now.</summary>
    public int Waiting => Math.Max(0, Volatile.Read(ref _admitted) - Running);

    /// <summary>Seconds a refused client should wait before retrying (1 to 3600).</summary>
    public int RetryAfterSeconds => (int)Math.Clamp(Math.Ceiling(Volatile.Read(ref _meanSeconds) * (Waiting + 1) / MaxConcurrency), 1, 3600);

    /// <summary>Admits a request (it then waits in <see cref="Admission.WaitAsync"/>), or null when the queue is full.</summary>
    public Admission? TryAdmit()
    {
        if (Interlocked.Increment(ref _admitted) > _capacity)
        {
            Interlocked.Decrement(ref _admitted);
            return null;
        }

        return new Admission(this);
    }

    /// <inheritdoc />
    public void Dispose() => _slots.Dispose();

    /// <summary>An admitted request: wait for a slot, run, dispose (frees the slot or the queue place).</summary>
    public sealed class Admission : IDisposable
    {
        private readonly AttributionGate _gate;
        private long _start;
        private int _state; // 0 waiting, 1 running, 2 disposed

        internal Admission(AttributionGate gate) => _gate = gate;

        /// <summary>Waits for a free slot.</summary>
        /// <exception cref="OperationCanceledException">Cancelled while waiting.</exception>
        public async Task WaitAsync(CancellationToken cancellationToken)
        {
            await _gate._slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            _start = Stopwatch.GetTimestamp();
            Interlocked.Increment(ref _gate._running);
            Volatile.Write(ref _state, 1);
        }

        /// <inheritdoc />
        public void Dispose()
        {
            int state = Interlocked.Exchange(ref _state, 2);
            if (state == 2)
            {
                return;
            }

            if (state == 1)
            {
                // Exponential moving average of attribution durations, for Retry-After.
                double seconds = Stopwatch.GetElapsedTime(_start).TotalSeconds;
                double mean = Volatile.Read(ref _gate._meanSeconds);
                Volatile.Write(ref _gate._meanSeconds, (0.8 * mean) + (0.2 * seconds));
                Interlocked.Decrement(ref _gate._running);
                _gate._slots.Release();
            }

            Interlocked.Decrement(ref _gate._admitted);
        }
    }
}
