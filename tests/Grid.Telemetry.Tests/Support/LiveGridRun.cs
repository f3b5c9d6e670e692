using System.Diagnostics;
using Grid.Contracts.Runs;
using Grid.Hosting;
using Grid.Hosting.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Grid.Telemetry.Tests.Support;

/// <summary>
/// A short GRPO-D run on a real 2-silo cluster, watched by a real Prometheus: two `grid silo` processes (localhost
/// clustering, memory grain storage, a shared weight folder; the first declares a GPU so the learner lands there),
/// each serving /metrics on its own port, a prometheus scraping both every second, `grid submit` of a smoke run,
/// and an Orleans client to ask the run's controller. Everything stays up for the tests and is killed at the end.
/// </summary>
public sealed class LiveGridRun : IAsyncLifetime
{
    public const string RunId = "live-metrics";

    /// <summary>Enough steps that the run spans several 1 s scrapes (a smoke step takes ~0.3 s on 2 loaded cores).</summary>
    public const int Steps = 20;

    private static readonly TimeSpan SiloStartTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(180);
    private readonly GridProcesses _processes = new("grid-live-");
    private IHost? _client;

    public GridProcess[] Silos { get; private set; } = [];

    /// <summary>Each silo's /metrics, in the order of <see cref="Silos"/>.</summary>
    public Uri[] MetricsEndpoints { get; private set; } = [];

    public PrometheusServer Prometheus { get; private set; } = null!;

    public IControllerGrain Controller => _client!.Services.GetRequiredService<IClusterClient>().GetGrain<IControllerGrain>(RunId);

    public string[] Common { get; private set; } = [];

    public int Gateway { get; private set; }

    /// <summary>Seconds from the first silo's start to both silos ready, and of the run (submit to completed).</summary>
    public (double Cluster, double Run) Seconds { get; private set; }

    public async ValueTask InitializeAsync()
    {
        var cancellation = TestContext.Current.CancellationToken;
        string clusterId = "live-" + Guid.NewGuid().ToString("N")[..8];
        Common = ["--cluster", "localhost", "--storage", "memory", "--cluster-id", clusterId,
            "--weight-folder", Path.Combine(_processes.WorkFolder, "weights")];
        int primaryPort = GridProcess.FreeLoopbackPort();
        Gateway = GridProcess.FreeLoopbackPort();
        int[] metricsPorts = [GridProcess.FreeLoopbackPort(), GridProcess.FreeLoopbackPort()];
        MetricsEndpoints = metricsPorts.Select(p => new Uri($"http://127.0.0.1:{p}/metrics")).ToArray();

        var clock = Stopwatch.StartNew();
        var primary = Start("silo0", ["silo", .. Common, "--gpu", "1", "--silo-port", primaryPort.ToString(),
            "--gateway-port", Gateway.ToString(), "--metrics-port", metricsPorts[0].ToString()]);
        await primary.WaitForOutputAsync("grid silo ready", SiloStartTimeout, cancellation);
        var secondary = Start("silo1", ["silo", .. Common, "--primary-port", primaryPort.ToString(),
            "--silo-port", GridProcess.FreeLoopbackPort().ToString(), "--gateway-port", GridProcess.FreeLoopbackPort().ToString(),
            "--metrics-port", metricsPorts[1].ToString()]);
        await secondary.WaitForOutputAsync("grid silo ready", SiloStartTimeout, cancellation);
        Silos = [primary, secondary];
        double secondsCluster = clock.Elapsed.TotalSeconds;

        Prometheus = PrometheusServer.Start(MetricsEndpoints);
        _client = await ConnectAsync(clusterId, cancellation);
        // Submit only once Prometheus has scraped both silos: the tests check that counters grew while it watched, and
        // a run of 20 smoke steps can end (5 s) before a just-started Prometheus has scraped anything.
        await Prometheus.WaitForValueAsync("count(up{job=\"grid\"} == 1)", v => v == MetricsEndpoints.Length);

        clock.Restart();
        // Validation every 10 steps, so the dashboard's validation panel has data (the smoke preset validates never).
        var submit = Start("submit", ["submit", "--preset", "smoke", "--set", $"steps={Steps}", "--set", "eval_every=10", .. Common,
            "--gateway", Gateway.ToString(), "--run-id", RunId, "--output", Path.Combine(_processes.WorkFolder, "runs")]);
        int exit = await submit.WaitForExitAsync(RunTimeout, cancellation);
        Assert.True(exit == 0, $"grid submit exited {exit}:\n{submit.Output}\n{Logs()}");
        while (true)
        {
            var status = await Controller.GetStatus();
            if (status.State == RunState.Completed)
            {
                break;
            }

            Assert.True(status.State == RunState.Running && clock.Elapsed < RunTimeout,
                $"run {RunId} is {status.State} after {clock.Elapsed.TotalSeconds:F0} s ({status.LastError}):\n{Logs()}");
            await Task.Delay(200, cancellation);
        }

        Seconds = (secondsCluster, clock.Elapsed.TotalSeconds);
    }

    public GridProcess Start(string name, string[] arguments) =>
        _processes.Start(name, new Dictionary<string, string?>(), arguments);

    public string Logs() => _processes.Logs();

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.StopAsync(CancellationToken.None);
            _client.Dispose();
        }

        Prometheus?.Dispose();
        await _processes.DisposeAsync();
    }

    private async Task<IHost> ConnectAsync(string clusterId, CancellationToken cancellation)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.SetMinimumLevel(LogLevel.Error);
        builder.UseOrleansClient(client => client.AddGridClient(new GridClientOptions
        {
            Cluster = ClusterMode.Localhost,
            ClusterId = clusterId,
            GatewayPorts = [Gateway],
        }));
        var host = builder.Build();
        await host.StartAsync(cancellation);
        return host;
    }
}
