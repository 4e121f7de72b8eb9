using System.Diagnostics;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using System.Threading.Channels;
using InseqBridge.Aggregation;
using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Errors;
using InseqBridge.Serialization;
using InseqBridge.Tokenizers;
using InseqBridge.Native.Attribution;
using InseqBridge.Visualization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;

namespace InseqBridge.Server;

/// <summary>
/// <c>app.MapInseqBridge()</c>: the HTTP API under <c>/v1</c>, the web page at <c>/</c>, the API browser at
/// <c>/docs</c>, <c>/healthz</c>, <c>/readyz</c>, <c>/metrics</c> and the OpenAPI document
/// <c>/openapi/inseq-bridge.json</c>.
/// </summary>
public static partial class InseqBridgeEndpointRouteBuilderExtensions
{
    /// <summary>Name of the OpenAPI document (served at <c>/openapi/inseq-bridge.json</c>).</summary>
    public const string OpenApiDocumentName = "inseq-bridge";

    private const string ProblemContentType = "application/problem+json";
    private static readonly string[] StepScoreIdsWithArguments = [.. StepFunction.BuiltInIds];

    /// <summary>Maps every endpoint of the service.</summary>
    /// <param name="endpoints">The app.</param>
    /// <param name="mapOpenApi">Also map <c>/openapi/{documentName}.json</c> (false when the app maps OpenAPI itself).</param>
    public static IEndpointRouteBuilder MapInseqBridge(this IEndpointRouteBuilder endpoints, bool mapOpenApi = true)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/", Handler("page", false, (c, _) => WritePage(c, "index.html"))).ExcludeFromDescription();
        endpoints.MapGet("/docs", Handler("docs", false, (c, _) => WritePage(c, "docs.html"))).ExcludeFromDescription();
        endpoints.MapGet("/healthz", Handler("healthz", false, (c, _) => WriteJson(c, 200, new HealthStatus("ok"), ServerJson.Context.HealthStatus)))
            .WithGroupName(OpenApiDocumentName).WithSummary("Liveness: 200 while the process serves requests.").Produces<HealthStatus>();
        endpoints.MapGet("/readyz", Handler("readyz", false, Ready))
            .WithGroupName(OpenApiDocumentName).WithSummary("Readiness: 200 once every configured model is loaded, else 503.").Produces<HealthStatus>().Produces<HealthStatus>(503);
        endpoints.MapGet("/metrics", Handler("metrics", true, Metrics))
            .WithGroupName(OpenApiDocumentName).WithSummary("Prometheus metrics (text format).").Produces(200, contentType: "text/plain");

        RouteGroupBuilder v1 = endpoints.MapGroup("/v1").WithGroupName(OpenApiDocumentName);
        v1.MapGet("/models", Handler("models", true, Models)).WithSummary("The configured models, by NAME.").Produces<ModelList>();
        v1.MapGet("/methods", Handler("methods", true, (c, _) => WriteJson(c, 200, Catalog.Methods, ServerJson.Context.MethodList)))
            .WithSummary("Attribution method ids with their arguments and defaults (attribution_args).").Produces<MethodList>();
        v1.MapGet("/step-functions", Handler("step-functions", true, (c, _) => WriteJson(c, 200, Catalog.StepFunctions, ServerJson.Context.StepFunctionList)))
            .WithSummary("Step function ids with their arguments and defaults (step_scores_args, attributed_fn_args).").Produces<StepFunctionList>();
        v1.MapPost("/attribute", Handler("attribute", true, Attribute))
            .WithSummary("Inseq's model.attribute(...): answers the Inseq JSON that `inseq-bridge attribute --save` writes for the same call; "
                + "with Accept: text/html the heatmap page; with Accept: text/event-stream progress events, then the result.")
            // Any content type is read as JSON (curl -d sends form encoding): "*/*" keeps routing from answering 415.
            .Accepts<AttributeRequestBody>("application/json", "*/*")
            .Produces(200, contentType: "application/json")
            .Produces(200, contentType: "text/html")
            .Produces(200, contentType: "text/event-stream")
            .Produces<Problem>(400, ProblemContentType)
            .Produces<Problem>(401, ProblemContentType)
            .Produces<Problem>(404, ProblemContentType)
            .Produces<Problem>(413, ProblemContentType)
            .Produces<Problem>(429, ProblemContentType)
            .Produces<Problem>(503, ProblemContentType);
        if (mapOpenApi)
        {
            endpoints.MapOpenApi("/openapi/{documentName}.json");
        }

        return endpoints;
    }

    /// <summary>Wraps a handler: API key check, error mapping to problem+json, request metrics.</summary>
    private static Func<HttpContext, CancellationToken, Task> Handler(string endpoint, bool needsKey, Func<HttpContext, Services, Task> handler) =>
        async (context, _) =>
        {
            var services = new Services(context.RequestServices);
            try
            {
                if (needsKey && !Authorized(context, services.Options))
                {
                    context.Response.Headers.WWWAuthenticate = "Bearer";
                    throw new ProblemException(new Problem
                    {
                        Title = "API key required",
                        Status = 401,
                        Detail = "Send the API key as 'Authorization: Bearer KEY' or 'X-API-Key: KEY'.",
                    });
                }

                await handler(context, services).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                await Fail(context, services, e).ConfigureAwait(false);
            }
            finally
            {
                services.Metrics.Requests.WithLabels(endpoint, context.Response.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
            }
        };

    private static async Task Fail(HttpContext context, Services services, Exception e)
    {
        Problem problem;
        switch (e)
        {
            case ProblemException p:
                problem = p.Problem;
                break;
            case OperationCanceledException when context.RequestAborted.IsCancellationRequested:
                // The client went away: nobody to answer. 499 only shows in the logs and metrics.
                services.Metrics.Cancelled.Inc();
                LogCancelled(services.Logger, context.TraceIdentifier);
                context.Response.StatusCode = 499;
                return;
            case OperationCanceledException when services.Shutdown.IsStopping:
                services.Metrics.Cancelled.Inc();
                problem = new Problem { Title = "Server shutting down", Status = 503, Detail = "The server stopped before the attribution finished: retry on another instance or later." };
                break;
            case InseqBridgeException or InseqJsonException or TokenizerLoadException:
                // The message the CLI prints after "error: ".
                problem = new Problem { Title = "Invalid request", Status = 400, Detail = CliMessage(e) };
                break;
            case BadHttpRequestException bad:
                problem = new Problem { Title = "Bad request", Status = bad.StatusCode, Detail = bad.Message };
                break;
            default:
                LogUnexpected(services.Logger, e, context.TraceIdentifier);
                problem = new Problem
                {
                    Title = "Internal server error",
                    Status = 500,
                    Detail = $"An unexpected error occurred (a bug); the server log has the details under correlation id {context.TraceIdentifier}.",
                    CorrelationId = context.TraceIdentifier,
                };
                break;
        }

        if (context.Response.HasStarted)
        {
            if (context.Response.ContentType?.StartsWith("text/event-stream", StringComparison.Ordinal) == true)
            {
                await WriteEvent(context, "error", JsonSerializer.Serialize(problem, ServerJson.Context.Problem)).ConfigureAwait(false);
            }

            return;
        }

        context.Response.StatusCode = problem.Status;
        context.Response.ContentType = ProblemContentType;
        await context.Response.WriteAsync(JsonSerializer.Serialize(problem, ServerJson.Context.Problem), context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>First line of the message, plus the cause as the CLI prints it.</summary>
    private static string CliMessage(Exception e)
    {
        static string FirstLine(string text) => text.Split('\n', 2)[0].TrimEnd('\r');
        string message = FirstLine(e.Message);
        return e.InnerException is { } cause && !e.Message.Contains(cause.Message, StringComparison.Ordinal)
            ? $"{message} (caused by: {FirstLine(cause.Message)})"
            : message;
    }

    private static bool Authorized(HttpContext context, InseqBridgeServerOptions options)
    {
        if (options.ApiKeys.Count == 0)
        {
            return true;
        }

        string? given = context.Request.Headers["X-API-Key"].FirstOrDefault();
        string? authorization = context.Request.Headers.Authorization.FirstOrDefault();
        if (given is null && authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            given = authorization["Bearer ".Length..].Trim();
        }

        if (string.IsNullOrEmpty(given))
        {
            return false;
        }

        // Compare hashes in constant time: neither the key nor its length leaks through timing.
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(given));
        bool match = false;
        foreach (string key in options.ApiKeys)
        {
            match |= CryptographicOperations.FixedTimeEquals(hash, SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        }

        return match;
    }

    private static Task Ready(HttpContext context, Services services)
    {
        ModelRegistry registry = services.Registry;
        HealthStatus status = registry.IsReady ? new HealthStatus("ready")
            : registry.Failure is { } failure ? new HealthStatus("failed", CliMessage(failure))
            : new HealthStatus("loading", "The configured models are still loading.");
        return WriteJson(context, registry.IsReady ? 200 : 503, status, ServerJson.Context.HealthStatus);
    }

    private static async Task Metrics(HttpContext context, Services services)
    {
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        await services.Metrics.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
    }

    private static Task Models(HttpContext context, Services services)
    {
        var models = services.Registry.Names
            .Select(name => services.Registry.Find(name) is { } m ? new ModelEntry(name, m.Info.ModelClass, m.Info.TokenizerClass, m.IsEncoderDecoder) : null)
            .OfType<ModelEntry>()
            .ToList();
        return WriteJson(context, 200, new ModelList(models), ServerJson.Context.ModelList);
    }

    private static async Task Attribute(HttpContext context, Services services)
    {
        InseqBridgeServerOptions options = services.Options;
        byte[] body = await ReadBody(context, options.Limits.MaxBodyBytes).ConfigureAwait(false);
        var (name, call) = AttributeRequestReader.Read(body);
        if (!services.Registry.Names.Contains(name))
        {
            throw new ProblemException(new Problem
            {
                Title = "Unknown model",
                Status = 404,
                Detail = $"No model is configured as '{name}'. Configured: {string.Join(", ", services.Registry.Names)} (GET /v1/models).",
            });
        }

        IAttributionModel model = services.Registry.Find(name) ?? throw NotReady(context);

        // Build everything before queueing, so a bad request fails at once with the CLI's message.
        AttributionMethod method = call.CreateMethod();
        AttributionRequest request = call.CreateRequest(method, [.. StepFunctionEvaluator.CustomIds]);
        IAggregator[]? aggregation = call.CreateAggregation();
        RequestLimits.Check(options.Limits, call, model);
        ResponseKind kind = Negotiate(context.Request);

        using AttributionGate.Admission? admission = services.Gate.TryAdmit();
        if (admission is null)
        {
            services.Metrics.Rejected.Inc();
            context.Response.Headers.RetryAfter = services.Gate.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            throw new ProblemException(new Problem
            {
                Title = "Too many requests",
                Status = 429,
                Detail = $"{services.Gate.MaxConcurrency} attributions are running and {services.Gate.QueueLength} waiting; retry after the time in Retry-After.",
            });
        }

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, services.Shutdown.Token);
        long start = Stopwatch.GetTimestamp();
        if (kind == ResponseKind.EventStream)
        {
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            context.Response.Headers["X-Accel-Buffering"] = "no";
            await WriteEvent(context, "queued", $"{{\"waiting\":{services.Gate.Waiting}}}").ConfigureAwait(false);
        }

        await admission.WaitAsync(cancel.Token).ConfigureAwait(false);
        FeatureAttributionOutput result;
        if (kind == ResponseKind.EventStream)
        {
            var channel = Channel.CreateUnbounded<AttributionProgress>(new UnboundedChannelOptions { SingleReader = true });
            Task<FeatureAttributionOutput> work = model.AttributeAsync(request, new ChannelProgress(channel.Writer), cancel.Token);
            _ = work.ContinueWith(_ => channel.Writer.TryComplete(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            try
            {
                await foreach (AttributionProgress p in channel.Reader.ReadAllAsync(cancel.Token).ConfigureAwait(false))
                {
                    await WriteEvent(context, "progress", JsonSerializer.Serialize(new ProgressEvent(p.Completed, p.Total), ServerJson.Context.ProgressEvent)).ConfigureAwait(false);
                }
            }
            finally
            {
                // The slot is freed only once the engine has stopped (it sees the same token), so cancelled work never
                // overlaps the next request.
                await ((Task)work).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            result = await work.ConfigureAwait(false);
        }
        else
        {
            result = await model.AttributeAsync(request, null, cancel.Token).ConfigureAwait(false);
        }

        services.Metrics.Latency.WithLabels(name, method.Id).Observe(Stopwatch.GetElapsedTime(start).TotalSeconds);
        services.Metrics.TokensAttributed.WithLabels(name).Inc(result.SequenceAttributions.Sum(s => Math.Max(0, s.AttrPosEnd - s.AttrPosStart)));

        // Exactly what `attribute --save` writes for the same call (current Inseq encoding).
        string json = InseqJson.Serialize(AttributeCall.Shape(result, aggregation), new SaveOptions(Encoding: InseqJsonEncoding.Inseq07));
        switch (kind)
        {
            case ResponseKind.EventStream:
                await WriteEvent(context, "result", json).ConfigureAwait(false);
                if (context.Request.Query["include"] == "html")
                {
                    await WriteEvent(context, "html", HtmlRenderer.Render(result)).ConfigureAwait(false);
                }

                await WriteEvent(context, "done", "{}").ConfigureAwait(false);
                break;
            case ResponseKind.Html:
                context.Response.ContentType = "text/html; charset=utf-8";
                await context.Response.WriteAsync(HtmlRenderer.Render(result), context.RequestAborted).ConfigureAwait(false);
                break;
            default:
                context.Response.ContentType = "application/json; charset=utf-8";
                await context.Response.WriteAsync(json, context.RequestAborted).ConfigureAwait(false);
                break;
        }
    }

    private static ProblemException NotReady(HttpContext context)
    {
        context.Response.Headers.RetryAfter = "5";
        return new ProblemException(new Problem { Title = "Models loading", Status = 503, Detail = "The configured models are still loading (see /readyz): retry shortly." });
    }

    private enum ResponseKind
    {
        Json,
        Html,
        EventStream,
    }

    private static ResponseKind Negotiate(HttpRequest request)
    {
        string accept = request.Headers.Accept.ToString();
        if (accept.Contains("text/event-stream", StringComparison.OrdinalIgnoreCase))
        {
            return ResponseKind.EventStream;
        }

        return accept.Contains("text/html", StringComparison.OrdinalIgnoreCase) && !accept.Contains("application/json", StringComparison.OrdinalIgnoreCase)
            ? ResponseKind.Html
            : ResponseKind.Json;
    }

    /// <summary>Reads the body, refusing with 413 beyond <paramref name="limit"/> bytes (declared or actual).</summary>
    private static async Task<byte[]> ReadBody(HttpContext context, long limit)
    {
        if (context.Request.ContentLength is long declared && declared > limit)
        {
            throw ProblemException.LimitExceeded("max_body_bytes", limit, declared, $"The body has {declared} bytes; the server accepts at most {limit}.", 413);
        }

        using var buffer = new MemoryStream();
        byte[] chunk = new byte[16384];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > limit)
            {
                throw ProblemException.LimitExceeded("max_body_bytes", limit, buffer.Length, $"The body exceeds {limit} bytes, the most the server accepts.", 413);
            }
        }

        return buffer.ToArray();
    }

    private static async Task WriteEvent(HttpContext context, string name, string data)
    {
        var text = new StringBuilder().Append("event: ").Append(name).Append('\n');
        foreach (string line in data.Split('\n'))
        {
            text.Append("data: ").Append(line.TrimEnd('\r')).Append('\n');
        }

        text.Append('\n');
        await context.Response.WriteAsync(text.ToString(), CancellationToken.None).ConfigureAwait(false);
        await context.Response.Body.FlushAsync(CancellationToken.None).ConfigureAwait(false);
    }

    private static Task WriteJson<T>(HttpContext context, int status, T value, JsonTypeInfo<T> typeInfo)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        return context.Response.WriteAsync(JsonSerializer.Serialize(value, typeInfo), context.RequestAborted);
    }

    private static async Task WritePage(HttpContext context, string page)
    {
        await using Stream stream = typeof(InseqBridgeEndpointRouteBuilderExtensions).Assembly.GetManifestResourceStream("InseqBridge.Server." + page)
            ?? throw new InvalidOperationException($"embedded page {page} missing");
        context.Response.ContentType = "text/html; charset=utf-8";
        // The pages load nothing from elsewhere: no external scripts, styles or fonts.
        context.Response.Headers.ContentSecurityPolicy = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'";
        await stream.CopyToAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
    }

    private sealed class ChannelProgress(ChannelWriter<AttributionProgress> writer) : IProgress<AttributionProgress>
    {
        public void Report(AttributionProgress value) => writer.TryWrite(value);
    }

    /// <summary>The services a handler uses.</summary>
    private sealed class Services(IServiceProvider provider)
    {
        public InseqBridgeServerOptions Options { get; } = provider.GetRequiredService<IOptions<InseqBridgeServerOptions>>().Value;

        public ModelRegistry Registry => provider.GetRequiredService<ModelRegistry>();

        public AttributionGate Gate => provider.GetRequiredService<AttributionGate>();

        public ServerMetrics Metrics { get; } = provider.GetRequiredService<ServerMetrics>();

        public ShutdownCoordinator Shutdown => provider.GetRequiredService<ShutdownCoordinator>();

        public ILogger Logger => provider.GetRequiredService<ILoggerFactory>().CreateLogger("InseqBridge.Server");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "attribution cancelled: the client disconnected (correlation id {CorrelationId})")]
    private static partial void LogCancelled(ILogger logger, string correlationId);

    [LoggerMessage(Level = LogLevel.Error, Message = "unexpected error (a bug), correlation id {CorrelationId}")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string correlationId);
}
