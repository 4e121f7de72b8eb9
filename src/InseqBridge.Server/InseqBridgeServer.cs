using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace InseqBridge.Server;

/// <summary>
/// A standalone server (what <c>inseq-bridge serve</c> runs): Kestrel on <see cref="DefaultUrl"/> unless told
/// otherwise, the service registered and mapped. Binding to anything but loopback requires an API key.
/// </summary>
public static class InseqBridgeServer
{
    /// <summary>The default address: loopback only.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5000";

    /// <summary>Builds the app (not started).</summary>
    /// <param name="urls">Addresses to listen on (default <see cref="DefaultUrl"/>); port 0 picks a free port.</param>
    /// <param name="configure">Sets models, concurrency, queue, API keys and limits.</param>
    /// <param name="logging">Adjusts logging (e.g. quieter in tests).</param>
    /// <exception cref="ArgumentException">A non-loopback address without an API key, or a malformed address.</exception>
    public static WebApplication Create(IReadOnlyList<string>? urls, Action<InseqBridgeServerOptions> configure, Action<ILoggingBuilder>? logging = null)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var probe = new InseqBridgeServerOptions();
        configure(probe);
        urls = urls is { Count: > 0 } ? urls : [DefaultUrl];
        foreach (string url in urls)
        {
            if (!IsLoopback(url) && probe.ApiKeys.Count == 0)
            {
                throw new ArgumentException(
                    $"Refusing to listen on {url} without an API key: anything but loopback (127.0.0.1, [::1], localhost) needs --api-key-file.");
            }
        }

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseUrls([.. urls]);
        builder.WebHost.UseKestrelHttpsConfiguration(); // https:// URLs with the usual Kestrel certificate settings
        // One line per request is noise for a service log: ASP.NET Core's own logs from warnings up.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            // The body limit is enforced by the API with a problem+json answer; this is a backstop.
            k.Limits.MaxRequestBodySize = Math.Max(probe.Limits.MaxBodyBytes * 2, 1 << 20);
        });
        builder.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(o => o.ShutdownTimeout = probe.ShutdownGrace + TimeSpan.FromSeconds(5));
        logging?.Invoke(builder.Logging);
        builder.Services.AddInseqBridge(configure);
        WebApplication app = builder.Build();
        app.MapInseqBridge();
        return app;
    }

    /// <summary>True when <paramref name="url"/> listens on loopback only.</summary>
    /// <exception cref="ArgumentException">Not an http(s) URL.</exception>
    public static bool IsLoopback(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        // Kestrel's wildcards (http://*:5000, http://+:5000) are not valid URIs; they bind every interface.
        string normalized = url.Replace("://*", "://wildcard.invalid", StringComparison.Ordinal).Replace("://+", "://wildcard.invalid", StringComparison.Ordinal);
        if (!Uri.TryCreate(normalized, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"'{url}' is not an http(s) URL such as {DefaultUrl}.");
        }

        string host = uri.Host.Trim('[', ']');
        return host == "localhost" || (IPAddress.TryParse(host, out IPAddress? address) && IPAddress.IsLoopback(address));
    }
}
