using Prometheus;

namespace InseqBridge.Server;

/// <summary>
/// Prometheus metrics of one server (its own registry, so several servers in one process do not mix): requests by
/// endpoint and status, attribution latency, in-flight and queued attributions, tokens attributed, cancellations.
/// </summary>
public sealed class ServerMetrics
{
    /// <summary>Creates the metrics; <paramref name="gate"/> feeds the queue and in-flight gauges at scrape time.</summary>
    public ServerMetrics(AttributionGate gate)
    {
        ArgumentNullException.ThrowIfNull(gate);
        Registry = Metrics.NewCustomRegistry();
        IMetricFactory factory = Metrics.WithCustomRegistry(Registry);
        Requests = factory.CreateCounter("inseqbridge_requests_total", "HTTP requests by endpoint and status code.",
            new CounterConfiguration { LabelNames = ["endpoint", "status"] });
        Latency = factory.CreateHistogram("inseqbridge_attribution_duration_seconds", "Time from admission to result of POST /v1/attribute, queue wait included.",
            new HistogramConfiguration { LabelNames = ["model", "method"], Buckets = Histogram.ExponentialBuckets(0.005, 2, 16) });
        TokensAttributed = factory.CreateCounter("inseqbridge_tokens_attributed_total", "Generated tokens attributed.",
            new CounterConfiguration { LabelNames = ["model"] });
        Cancelled = factory.CreateCounter("inseqbridge_attributions_cancelled_total", "Attributions stopped because the client disconnected or the server shut down.");
        Rejected = factory.CreateCounter("inseqbridge_requests_rejected_total", "Requests refused with 429 because the queue was full.");
        Gauge inFlight = factory.CreateGauge("inseqbridge_attributions_in_flight", "Attributions running now.");
        Gauge queued = factory.CreateGauge("inseqbridge_queue_length", "Requests waiting for an attribution slot.");
        Registry.AddBeforeCollectCallback(() =>
        {
            inFlight.Set(gate.Running);
            queued.Set(gate.Waiting);
        });
    }

    /// <summary>The registry exported at <c>/metrics</c>.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary><c>inseqbridge_requests_total{endpoint,status}</c>.</summary>
    public Counter Requests { get; }

    /// <summary><c>inseqbridge_attribution_duration_seconds{model,method}</c>.</summary>
    public Histogram Latency { get; }

    /// <summary><c>inseqbridge_tokens_attributed_total{model}</c>.</summary>
    public Counter TokensAttributed { get; }

    /// <summary><c>inseqbridge_attributions_cancelled_total</c>.</summary>
    public Counter Cancelled { get; }

    /// <summary><c>inseqbridge_requests_rejected_total</c>.</summary>
    public Counter Rejected { get; }
}
