using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace InseqBridge.Server;

/// <summary><c>services.AddInseqBridge(...)</c>: registers the attribution service in an ASP.NET Core app.</summary>
public static class InseqBridgeServiceCollectionExtensions
{
    /// <summary>
    /// Registers the models (loaded in the background at start), admission control, metrics and the OpenAPI document
    /// <c>inseq-bridge</c>. Map the endpoints with <see cref="InseqBridgeEndpointRouteBuilderExtensions.MapInseqBridge"/>.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configure">Sets the models (NAME to folder), concurrency, queue, API keys and limits.</param>
    public static IServiceCollection AddInseqBridge(this IServiceCollection services, Action<InseqBridgeServerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.Configure(configure);
        services.AddSingleton<ModelRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelRegistry>());
        services.AddSingleton(sp =>
        {
            InseqBridgeServerOptions options = sp.GetRequiredService<IOptions<InseqBridgeServerOptions>>().Value;
            return new AttributionGate(options.MaxConcurrency, options.QueueLength);
        });
        services.AddSingleton<ServerMetrics>();
        services.AddSingleton<ShutdownCoordinator>();
        services.AddOpenApi(InseqBridgeEndpointRouteBuilderExtensions.OpenApiDocumentName);
        return services;
    }
}
