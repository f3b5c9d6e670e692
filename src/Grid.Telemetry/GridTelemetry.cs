using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;

namespace Grid.Telemetry;

/// <summary>
/// Wiring for a silo's host. On any generic host (<c>Host.CreateApplicationBuilder</c> or
/// <c>WebApplication.CreateBuilder</c>, with <c>UseOrleans</c>):
/// <code>
/// builder.Services.AddGridTelemetry(new GridTelemetryOptions { ListenAddress = "0.0.0.0", Port = 9465 });
/// </code>
/// serves <c>/metrics</c> and <c>/healthz</c> (from the host's <see cref="IGridHealth"/>, if any) on its own Kestrel. A silo that already runs a WebApplication can serve it on its own
/// port instead: <c>builder.Services.AddGridMetrics()</c>, then <c>app.MapGridMetrics()</c>.
/// Take <see cref="GridMetrics"/> from dependency injection in grains; <see cref="GridMetricsServer.Endpoint"/> (also in
/// DI) says where the scrape endpoint is bound once the host has started.
/// </summary>
public static class GridTelemetry
{
    /// <summary>The meter, the OpenTelemetry metrics pipeline and the metrics server on its own port.</summary>
    public static IServiceCollection AddGridTelemetry(this IServiceCollection services, GridTelemetryOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        options = (options ?? new GridTelemetryOptions()).Validate();
        services.AddGridMetrics(options);
        services.TryAddSingleton(sp => new GridMetricsServer(sp.GetRequiredService<MeterProvider>(), options,
            sp.GetService<IGridHealth>()));
        services.AddHostedService(sp => sp.GetRequiredService<GridMetricsServer>());
        return services;
    }

    /// <summary>
    /// The meter and the OpenTelemetry pipeline (meters <c>Grid</c> and <c>Microsoft.Orleans</c>, Prometheus
    /// exporter) without a server: pair it with <see cref="MapGridMetrics"/>.
    /// </summary>
    public static IServiceCollection AddGridMetrics(this IServiceCollection services, GridTelemetryOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        options = (options ?? new GridTelemetryOptions()).Validate();
        services.AddMetrics();
        services.TryAddSingleton(sp => new GridMetrics(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            sp.GetService<TimeProvider>()));
        services.AddOpenTelemetry().WithMetrics(metrics => ConfigureMetrics(metrics, options));
        return services;
    }

    /// <summary>Serves the scrape endpoint on the app's own Kestrel (after <see cref="AddGridMetrics"/>).</summary>
    public static IEndpointConventionBuilder MapGridMetrics(this IEndpointRouteBuilder endpoints, string path = "/metrics")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        return endpoints.MapPrometheusScrapingEndpoint(path);
    }

    internal static MeterProviderBuilder ConfigureMetrics(MeterProviderBuilder metrics, GridTelemetryOptions options)
    {
        metrics.AddMeter(GridMetrics.MeterName);
        if (options.IncludeOrleans)
        {
            metrics.AddMeter(GridMetrics.OrleansMeterName);
        }

        return metrics.AddPrometheusExporter(exporter =>
        {
            exporter.ScrapeEndpointPath = options.Path;
            exporter.ScrapeResponseCacheDurationMilliseconds = options.ScrapeCacheMilliseconds;
            // Pinned so the names in infra/ stay what they are if the exporter's default ever moves.
            exporter.TranslationStrategy = PrometheusAspNetCoreTranslationStrategy.UnderscoreEscapingWithSuffixes;
        });
    }
}
