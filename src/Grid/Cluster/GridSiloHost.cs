using Grid.Grains;
using Grid.Hosting;
using Grid.Hosting.Configuration;
using Grid.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Grid.Cli.Cluster;

/// <summary>The host of one <c>grid silo</c> process: logging, metrics, the silo and its grains.</summary>
internal static class GridSiloHost
{
    /// <summary>Time a stopping silo gets to hand off its grains and leave the membership table.</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(30);

    /// <param name="metrics">Where to serve /metrics; null serves none.</param>
    public static IHost Build(GridSiloOptions options, GridTelemetryOptions? metrics)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddGridSiloLogging();
        if (metrics is not null)
        {
            builder.Services.AddSingleton<IGridHealth, SiloHealth>(); // /healthz beside /metrics
            builder.Services.AddGridTelemetry(metrics);
        }

        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = ShutdownTimeout);
        builder.UseOrleans(silo => silo.AddGridSilo(options).AddGridGrains(datasetCache: options.DatasetCache));
        return builder.Build();
    }

    /// <summary>One line per message; Grid at Information, Orleans and the rest at Warning.</summary>
    public static ILoggingBuilder AddGridSiloLogging(this ILoggingBuilder logging)
    {
        logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "HH:mm:ss ";
        });
        logging.SetMinimumLevel(LogLevel.Warning);
        logging.AddFilter("Grid", LogLevel.Information);
        // It warns at every start that reminders may tick more often than once a minute: Grid's one reminder per running
        // run (the controller's keep-alive) does so on purpose.
        logging.AddFilter("Orleans.Hosting.ReminderOptionsValidator", LogLevel.Error);
        // As on the embedded grid: the notes that server GC is off (workstation GC is chosen on purpose, README
        // "Performance knobs"), and the watchdog's first warning that its participant check "has not completed for"
        // exactly the machine's uptime (a timestamp still at zero), a silo's first line, which reads like a deadlock.
        logging.AddFilter("Orleans.Runtime.Silo", LogLevel.Error);
        logging.AddFilter("Orleans.Runtime.Watchdog", LogLevel.Error);
        return logging;
    }
}
