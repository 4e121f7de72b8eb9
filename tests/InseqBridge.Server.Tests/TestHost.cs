using InseqBridge.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace InseqBridge.Server.Tests;

/// <summary>Repository paths of the models the tests serve.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>The BART demo model (encoder-decoder).</summary>
    public static string Words2Digits => Path.Combine(Root, "examples", "models", "words2digits");

    /// <summary>The tiny GPT-2 fixture (decoder-only).</summary>
    public static string Gpt2 => Path.Combine(Root, "tests", "fixtures", "parity", "models", "gpt2");

    private static string FindRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "InseqBridge.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("repository root (InseqBridge.sln) not found above the test binaries");
    }
}

/// <summary>
/// A running server with the two test models (<c>w2d</c>, <c>gpt2</c>): in-process on Mvc.Testing's TestServer, or on a
/// real Kestrel bound to a free loopback port.
/// </summary>
public sealed class TestHost : IAsyncDisposable
{
    private TestHost(WebApplication app, HttpClient client, Uri address)
    {
        App = app;
        Client = client;
        Address = address;
    }

    public WebApplication App { get; }

    public HttpClient Client { get; }

    public Uri Address { get; }

    public AttributionGate Gate => App.Services.GetRequiredService<AttributionGate>();

    public ServerMetrics Metrics => App.Services.GetRequiredService<ServerMetrics>();

    public static async Task<TestHost> StartAsync(bool kestrel, Action<InseqBridgeServerOptions>? configure = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        if (kestrel)
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");
        }
        else
        {
            builder.WebHost.UseTestServer();
        }

        builder.Logging.ClearProviders();
        builder.Services.AddInseqBridge(o =>
        {
            o.Models["w2d"] = RepoPaths.Words2Digits;
            o.Models["gpt2"] = RepoPaths.Gpt2;
            configure?.Invoke(o);
        });
        WebApplication app = builder.Build();
        app.MapInseqBridge();
        await app.StartAsync();
        await app.Services.GetRequiredService<ModelRegistry>().WhenReady.WaitAsync(TimeSpan.FromMinutes(2));
        if (kestrel)
        {
            string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var uri = new Uri(address);
            return new TestHost(app, new HttpClient { BaseAddress = uri, Timeout = TimeSpan.FromMinutes(5) }, uri);
        }

        HttpClient client = app.GetTestClient();
        client.Timeout = TimeSpan.FromMinutes(5);
        return new TestHost(app, client, client.BaseAddress!);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}

/// <summary>One in-process server shared by a test class.</summary>
public sealed class InProcessServer : IAsyncLifetime
{
    public TestHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await TestHost.StartAsync(kestrel: false);

    public async Task DisposeAsync() => await Host.DisposeAsync();
}
