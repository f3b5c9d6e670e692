using System.Net;
using System.Net.Sockets;
using Grid.Cli.Cluster;
using Grid.Grains;
using Grid.Hosting;
using Grid.Hosting.Configuration;
using Grid.Hosting.Storage;
using Grid.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Grid.Cli.Embedded;

/// <summary>
/// The grid in one process: one silo (localhost clustering, memory grain storage, a local-folder weight store,
/// CPU learner allowed) and its co-hosted client. Given metrics options, it serves /metrics (Grid and Orleans meters)
/// as a <c>grid silo</c> does, so Prometheus watches <c>grid train</c> like a cluster.
/// </summary>
internal static class EmbeddedGrid
{
    /// <summary>The folder of a run folder that holds the embedded grid's grain state (what resume reloads).</summary>
    public const string StateFolder = "grid-state";

    /// <summary>The run folder's log of the embedded silo (warnings and errors).</summary>
    public const string LogFile = "grid.log";

    /// <param name="stateFolder">Where grain state is kept beside memory, so that a killed process can be resumed;
    /// null keeps it in memory only.</param>
    /// <param name="logFile">Where the silo's warnings and errors go; null: nowhere.</param>
    public static IHost Start(string weightFolder, GridTelemetryOptions? metrics = null, string? stateFolder = null,
        string? logFile = null)
    {
        var options = new GridSiloOptions
        {
            Cluster = ClusterMode.Localhost,
            Storage = StorageMode.Memory,
            // One silo: its grain state needs no storage grains.
            InProcessStore = stateFolder is null ? new InProcessGrainStore() : new InProcessGrainStore(stateFolder),
            AllowCpuLearner = true,
            SiloPort = FreeLoopbackPort(),
            GatewayPort = 0, // the client is co-hosted; nobody else connects
            WeightFolder = weightFolder,
        }.Validate();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        if (logFile is not null)
        {
            builder.Logging.AddProvider(new RunLogProvider(logFile));
        }

        builder.Services.AddSingleton<IHostLifetime, EmbeddedHostLifetime>();
        // Orleans.Runtime.Silo warns at every start that server GC is off; grid chooses workstation GC on purpose
        // (README, "Performance knobs"), and the note on every `grid train` only alarmed. Orleans' watchdog warned
        // once per run that its participant check "has not completed for" exactly the machine's uptime (a timestamp
        // still at zero, seen in runs that went on normally), which reads like a deadlock.
        builder.Logging.AddFilter("Orleans.Runtime.Silo", LogLevel.Error);
        builder.Logging.AddFilter("Orleans.Runtime.Watchdog", LogLevel.Error);
        // And that reminders may tick more often than once a minute: the controller's keep-alive does so on purpose.
        builder.Logging.AddFilter("Orleans.Hosting.ReminderOptionsValidator", LogLevel.Error);
        if (metrics is not null)
        {
            builder.Services.AddSingleton<IGridHealth, SiloHealth>(); // /healthz beside /metrics, as on grid silo
            builder.Services.AddGridTelemetry(metrics);
        }

        builder.UseOrleans(silo => silo.AddGridSilo(options).AddGridGrains());
        var host = builder.Build();
        host.StartAsync().GetAwaiter().GetResult();
        return host;
    }

    /// <summary>A loopback port no one listens on now (the OS picks it), for a silo that only this process reaches.</summary>
    internal static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
