using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Grid.Telemetry;

/// <summary>
/// A small Kestrel server of its own that answers Prometheus scrapes of one <see cref="MeterProvider"/> on
/// <see cref="GridTelemetryOptions.ListenAddress"/>:<see cref="GridTelemetryOptions.Port"/><see cref="GridTelemetryOptions.Path"/>.
/// It also answers <see cref="GridTelemetryOptions.HealthPath"/> (<c>/healthz</c>) from the host's <see cref="IGridHealth"/>.
/// A silo built on any generic host gets it as a hosted service from <c>AddGridTelemetry</c>; a process without a
/// host (the in-process trainer, a test) starts one with <see cref="StartAsync(GridTelemetryOptions, CancellationToken)"/>.
/// </summary>
public sealed class GridMetricsServer : IHostedService, IAsyncDisposable
{
    private readonly MeterProvider _meterProvider;
    private readonly GridTelemetryOptions _options;
    private readonly GridMetrics? _ownedMetrics;
    private readonly IGridHealth? _health;
    private WebApplication? _app;

    /// <param name="health">What /healthz reports; null answers 200 while the server serves.</param>
    public GridMetricsServer(MeterProvider meterProvider, GridTelemetryOptions options, IGridHealth? health = null)
        : this(meterProvider, options, ownedMetrics: null, health)
    {
    }

    private GridMetricsServer(MeterProvider meterProvider, GridTelemetryOptions options, GridMetrics? ownedMetrics,
        IGridHealth? health)
    {
        ArgumentNullException.ThrowIfNull(meterProvider);
        ArgumentNullException.ThrowIfNull(options);
        _meterProvider = meterProvider;
        _options = options.Validate();
        _ownedMetrics = ownedMetrics;
        _health = health;
    }

    /// <summary>The health URL once started (<see cref="GridTelemetryOptions.HealthPath"/> on the bound port).</summary>
    public Uri HealthEndpoint => new(Endpoint, _options.HealthPath);

    /// <summary>The scrape URL once started, with the port Kestrel really bound (useful with port 0).</summary>
    public Uri Endpoint { get; private set; } = new("http://127.0.0.1/");

    /// <summary>The metrics a self-started server exports; null for a hosted one (take GridMetrics from DI).</summary>
    public GridMetrics? Metrics => _ownedMetrics;

    /// <summary>
    /// Starts a server with its own meter provider and <see cref="GridMetrics"/> (see <see cref="Metrics"/>), for a
    /// process without a generic host. Dispose it to stop serving.
    /// </summary>
    public static async Task<GridMetricsServer> StartAsync(GridTelemetryOptions options,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var metrics = new GridMetrics();
        var provider = GridTelemetry.ConfigureMetrics(Sdk.CreateMeterProviderBuilder(), options).Build();
        var server = new GridMetricsServer(provider, options, metrics, health: null);
        try
        {
            await server.StartAsync(cancellation);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            throw new InvalidOperationException($"The metrics server on {Endpoint} is already started.");
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(_options.ParsedListenAddress, _options.Port));
        var app = builder.Build();
        app.MapPrometheusScrapingEndpoint(_options.Path, _meterProvider, configureBranchedPipeline: null,
            optionsName: null);
        app.MapGet(_options.HealthPath, () =>
        {
            var report = _health?.Check() ?? new GridHealthReport(true, "serving (no cluster membership to report)");
            return Results.Text(report.Detail + "\n", statusCode: report.Healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e)
        {
            await app.DisposeAsync();
            throw new InvalidOperationException(
                $"Cannot serve metrics on {_options.ListenAddress}:{_options.Port} ({e.Message}); " +
                "give another port (each silo on one machine needs its own, e.g. 9464, 9465, 9466) or 0 for any free one.",
                e);
        }

        _app = app;
        string bound = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>()
            .Addresses.First();
        Endpoint = new Uri(new Uri(bound), _options.Path);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is { } app)
        {
            _app = null;
            await app.StopAsync(cancellationToken);
            await app.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        if (_ownedMetrics is not null)
        {
            _meterProvider.Dispose();
            _ownedMetrics.Dispose();
        }
    }
}
