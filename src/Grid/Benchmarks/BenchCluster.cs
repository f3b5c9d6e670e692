using Grid.Cli.Embedded;
using Grid.Grains;
using Grid.Grains.Rollouts;
using Grid.Hosting;
using Grid.Hosting.Configuration;
using Grid.Hosting.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Grid.Cli.Benchmarks;

/// <summary>
/// Several silos in the bench process, forming one localhost cluster (silo 0 is the primary and hosts the client),
/// memory storage and one shared local weight folder, every silo allowing a CPU learner unless given roles (a
/// rollout-only silo cannot allow one). A fixed-answer cluster may be given simulated costs
/// (<see cref="FixedAnswerCost"/>, a benchmark-only silo option): each silo gets its own policy, so its own engine.
/// </summary>
internal sealed class BenchCluster : IDisposable
{
    private readonly List<IHost> _hosts;

    private BenchCluster(List<IHost> hosts, string weights)
    {
        _hosts = hosts;
        WeightFolder = weights;
    }

    public string WeightFolder { get; }

    public IGrainFactory Grains => _hosts[0].Services.GetRequiredService<IGrainFactory>();

    public IServiceProvider Services(int silo) => _hosts[silo].Services;

    public static BenchCluster Start(int silos, RolloutEngineOptions rollouts, IReadOnlyList<GridSiloRole>? roles = null,
        FixedAnswerCost? cost = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(silos, 1);
        ArgumentNullException.ThrowIfNull(rollouts);
        if (cost is not null && rollouts.Policy != RolloutPolicy.FixedAnswer)
        {
            throw new ArgumentException("Simulated costs apply to the fixed-answer benchmark policy only.", nameof(cost));
        }

        string weights = Directory.CreateTempSubdirectory("grid-bench-weights-").FullName;
        int primary = EmbeddedGrid.FreeLoopbackPort();
        var store = new InProcessGrainStore(); // every silo is in this process, as in the embedded grid
        var hosts = new List<IHost>();
        for (int i = 0; i < silos; i++)
        {
            var options = new GridSiloOptions
            {
                Cluster = ClusterMode.Localhost,
                Storage = StorageMode.Memory,
                InProcessStore = store,
                Role = roles?[i] ?? GridSiloRole.Both,
                AllowCpuLearner = (roles?[i] ?? GridSiloRole.Both) != GridSiloRole.Rollout,
                SiloPort = i == 0 ? primary : EmbeddedGrid.FreeLoopbackPort(),
                GatewayPort = 0, // the client is co-hosted on silo 0
                PrimarySiloPort = primary,
                ClusterId = "grid-bench",
                ServiceId = "grid-bench",
                WeightFolder = weights,
            }.Validate();
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Error);
            builder.UseOrleans(silo =>
            {
                silo.AddGridSilo(options).AddGridGrains(rollouts);
                if (cost is not null)
                {
                    // Replaces the zero-cost policy AddGridGrains registered (the last registration is the one resolved).
                    silo.Services.AddSingleton<ISiloPolicy>(new FixedAnswerPolicy(cost.Validate()));
                }
            });
            var host = builder.Build();
            host.StartAsync().GetAwaiter().GetResult();
            hosts.Add(host);
        }

        var cluster = new BenchCluster(hosts, weights);
        WaitForSilos(cluster.Grains, silos);
        return cluster;
    }

    public void Dispose()
    {
        for (int i = _hosts.Count - 1; i >= 0; i--)
        {
            _hosts[i].StopAsync(CancellationToken.None).GetAwaiter().GetResult();
            _hosts[i].Dispose();
        }

        try
        {
            Directory.Delete(WeightFolder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Waits until the cluster behind <paramref name="grains"/> has <paramref name="silos"/> active silos (60 s at most).</summary>
    internal static void WaitForSilos(IGrainFactory grains, int silos)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var management = grains.GetGrain<IManagementGrain>(0);
        while (management.GetHosts(onlyActive: true).GetAwaiter().GetResult().Count < silos)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new BenchmarkFailedException($"The bench cluster did not see {silos} active silos within 60 s.");
            }

            Thread.Sleep(100);
        }

        Thread.Sleep(TimeSpan.FromSeconds(1)); // silo metadata (learner placement) travels just after joining
    }
}
