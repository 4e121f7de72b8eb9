using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace InseqBridge.Server.Tests;

/// <summary>Not run in parallel with other classes: these tests time the engine.</summary>
[CollectionDefinition("Kestrel", DisableParallelization = true)]
public sealed class KestrelCollection;

/// <summary>A real Kestrel on a loopback port: admission control, cancellation, API keys, shutdown.</summary>
[Collection("Kestrel")]
public sealed class KestrelTests
{
    /// <summary>
    /// A request that runs for many seconds on the tiny GPT-2: reference mode (one forward and backward per generated
    /// token, each checking for cancellation), integrated gradients with many points, a long forced output.
    /// </summary>
    private static readonly string LongBody = $$"""
        {"model": "gpt2", "method": "integrated_gradients", "input_texts": ["Hello"], "generated_texts": ["Hello{{string.Concat(Enumerable.Repeat(" world and", 18))}}"],
         "attribution_args": {"n_steps": 300}, "mode": "reference"}
        """;

    private static void LongLimits(InseqBridgeServerOptions o) => o.Limits = new ServerLimits { MaxSteps = 5000 };

    [Fact]
    public async Task Kestrel_answers_the_same_result_as_the_in_process_server()
    {
        const string body = """{"model": "w2d", "method": "input_x_gradient", "input_texts": ["nine one"], "step_scores": ["probability"]}""";
        await using TestHost kestrel = await TestHost.StartAsync(kestrel: true);
        await using TestHost inProcess = await TestHost.StartAsync(kestrel: false);
        Assert.True(IPAddress.IsLoopback(IPAddress.Parse(kestrel.Address.Host)));
        using HttpResponseMessage a = await kestrel.Client.SendAsync(Json.Post(body));
        using HttpResponseMessage b = await inProcess.Client.SendAsync(Json.Post(body));
        Assert.Equal(HttpStatusCode.OK, a.StatusCode);
        Json.AssertSameResult(await b.Content.ReadAsStringAsync(), await a.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_client_that_disconnects_cancels_its_attribution_within_a_step()
    {
        // Four long inputs, one per batch: the engine reports progress after each input and checks for
        // cancellation at every generated token.
        string text = "Hello" + string.Concat(Enumerable.Repeat(" world and", 18));
        string body = $$"""
            {"model": "gpt2", "method": "integrated_gradients", "input_texts": ["Hello", "Hello", "Hello", "Hello"],
             "generated_texts": ["{{text}}", "{{text}}", "{{text}}", "{{text}}"], "batch_size": 1,
             "attribution_args": {"n_steps": 50}, "mode": "reference"}
            """;
        await using TestHost host = await TestHost.StartAsync(kestrel: true, LongLimits);
        using var client = new HttpClient { BaseAddress = host.Address };
        using var cancel = new CancellationTokenSource();
        var started = Stopwatch.StartNew();
        using HttpResponseMessage response = await client.SendAsync(Json.Post(body, "text/event-stream"), HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
        // Wait until the engine reports its first input done: the attribution is running.
        string? line;
        int completed = 0, total = 0;
        while ((line = await reader.ReadLineAsync(cancel.Token)) is not null)
        {
            if (line.StartsWith("data: {\"completed\"", StringComparison.Ordinal))
            {
                JsonNode p = JsonNode.Parse(line["data: ".Length..])!;
                (completed, total) = (p["completed"]!.GetValue<int>(), p["total"]!.GetValue<int>());
                break;
            }
        }

        double secondsPerInput = started.Elapsed.TotalSeconds;
        Assert.Equal((1, 4), (completed, total));
        Assert.Equal(1, host.Gate.Running);
        // Disconnect: closing the response stream mid-way closes the connection.
        cancel.Cancel();
        reader.Dispose();
        response.Dispose();
        var stopping = Stopwatch.StartNew();
        while (host.Gate.Running > 0 && stopping.Elapsed < TimeSpan.FromSeconds(120))
        {
            await Task.Delay(20);
        }

        Assert.Equal(0, host.Gate.Running);
        Assert.Equal(1, host.Metrics.Cancelled.Value);
        // An input is ~36 generated tokens; the engine checks its token before each, so it stops long before the
        // input in progress would have finished (generous slack: the machine may be shared and slow).
        Assert.True(stopping.Elapsed.TotalSeconds < (0.5 * secondsPerInput) + 3,
            $"stopped {stopping.Elapsed.TotalSeconds:F2} s after the disconnect; one input took {secondsPerInput:F2} s");
    }

    [Fact]
    public async Task A_full_queue_answers_429_with_retry_after()
    {
        await using TestHost host = await TestHost.StartAsync(kestrel: true, o =>
        {
            LongLimits(o);
            o.MaxConcurrency = 1;
            o.QueueLength = 1;
        });
        using var cancel = new CancellationTokenSource();
        using var running = new HttpClient { BaseAddress = host.Address };
        using var waiting = new HttpClient { BaseAddress = host.Address };
        Task<HttpResponseMessage> first = running.SendAsync(Json.Post(LongBody), cancel.Token);
        await WaitFor(() => host.Gate.Running == 1);
        Task<HttpResponseMessage> second = waiting.SendAsync(Json.Post(LongBody), cancel.Token);
        await WaitFor(() => host.Gate.Waiting == 1);

        using HttpResponseMessage refused = await host.Client.SendAsync(Json.Post("""{"model": "w2d", "input_texts": ["one"]}"""));
        JsonNode problem = await ApiTests.Problem(refused, HttpStatusCode.TooManyRequests);
        Assert.Contains("retry", problem["detail"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);
        RetryConditionHeaderValue? retryAfter = refused.Headers.RetryAfter;
        Assert.NotNull(retryAfter?.Delta);
        Assert.True(retryAfter!.Delta!.Value.TotalSeconds >= 1);
        string metrics = await host.Client.GetStringAsync("/metrics");
        Assert.Contains("inseqbridge_queue_length 1", metrics, StringComparison.Ordinal);
        Assert.Contains("inseqbridge_attributions_in_flight 1", metrics, StringComparison.Ordinal);

        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second);
        await WaitFor(() => host.Gate.Running == 0 && host.Gate.Waiting == 0);
        using HttpResponseMessage after = await host.Client.SendAsync(Json.Post("""{"model": "w2d", "input_texts": ["one"]}"""));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task An_api_key_when_configured_is_required_on_the_api()
    {
        await using TestHost host = await TestHost.StartAsync(kestrel: true, o => o.ApiKeys.Add("s3cret-key"));
        using HttpResponseMessage none = await host.Client.GetAsync("/v1/models");
        await ApiTests.Problem(none, HttpStatusCode.Unauthorized);
        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/v1/models") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "s3cret-kez") } };
        await ApiTests.Problem(await host.Client.SendAsync(wrong), HttpStatusCode.Unauthorized);
        using HttpResponseMessage attribute = await host.Client.SendAsync(Json.Post("""{"model": "w2d", "input_texts": ["one"]}"""));
        await ApiTests.Problem(attribute, HttpStatusCode.Unauthorized);
        using HttpResponseMessage metrics = await host.Client.GetAsync("/metrics");
        await ApiTests.Problem(metrics, HttpStatusCode.Unauthorized);

        using var bearer = new HttpRequestMessage(HttpMethod.Get, "/v1/models") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "s3cret-key") } };
        Assert.Equal(HttpStatusCode.OK, (await host.Client.SendAsync(bearer)).StatusCode);
        using var header = new HttpRequestMessage(HttpMethod.Get, "/v1/models") { Headers = { { "X-API-Key", "s3cret-key" } } };
        Assert.Equal(HttpStatusCode.OK, (await host.Client.SendAsync(header)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync("/healthz")).StatusCode);
    }

    [Theory]
    [InlineData("http://0.0.0.0:5000")]
    [InlineData("http://*:5000")]
    [InlineData("http://+:5000")]
    [InlineData("http://192.168.1.10:5000")]
    [InlineData("http://[::]:5000")]
    public void Binding_beyond_loopback_needs_an_api_key(string url)
    {
        Assert.False(InseqBridgeServer.IsLoopback(url));
        var e = Assert.Throws<ArgumentException>(() => InseqBridgeServer.Create([url], o => o.Models["w2d"] = RepoPaths.Words2Digits));
        Assert.Contains("--api-key-file", e.Message, StringComparison.Ordinal);

        var cli = Json.Cli("serve", "--model", "w2d=" + RepoPaths.Words2Digits, "--urls", url);
        Assert.Equal(2, cli.ExitCode);
        Assert.Contains("needs --api-key-file", cli.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:5000")]
    [InlineData("http://localhost:5000")]
    [InlineData("http://[::1]:5000")]
    public void Loopback_addresses_need_no_key(string url) => Assert.True(InseqBridgeServer.IsLoopback(url));

    [Theory]
    [InlineData("demo")]
    [InlineData("demo=")]
    [InlineData("=dir")]
    public void Serve_rejects_a_model_that_is_not_name_equals_dir(string spec)
    {
        var cli = Json.Cli("serve", "--model", spec);
        Assert.Equal(2, cli.ExitCode);
        Assert.Contains("NAME=DIR", cli.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Shutdown_cancels_work_that_outlives_the_grace_period()
    {
        TestHost host = await TestHost.StartAsync(kestrel: true, o =>
        {
            LongLimits(o);
            o.ShutdownGrace = TimeSpan.FromSeconds(1);
        });
        using var client = new HttpClient { BaseAddress = host.Address };
        Task<HttpResponseMessage> pending = client.SendAsync(Json.Post(LongBody));
        AttributionGate gate = host.Gate;
        await WaitFor(() => gate.Running == 1);
        var watch = Stopwatch.StartNew();
        await host.DisposeAsync();
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"shutdown took {watch.Elapsed.TotalSeconds:F1} s");
        try
        {
            using HttpResponseMessage response = await pending;
            await ApiTests.Problem(response, HttpStatusCode.ServiceUnavailable);
        }
        catch (HttpRequestException)
        {
            // The connection may close before the 503 is written; either way the work stopped.
        }

        Assert.Equal(0, gate.Running);
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), "condition not reached within 60 s");
            await Task.Delay(20);
        }
    }
}
