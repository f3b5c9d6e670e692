using Grid.Contracts.Runs;
using Grid.Grains;
using Grid.Hosting;
using Grid.Hosting.Configuration;
using Grid.Hosting.Placement;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.TestingHost;

namespace Grid.Grains.Tests.Infrastructure;

/// <summary>
/// An in-process test cluster whose silo i declares <c>roles[i]</c>, wired as a Grid silo is (placement, memory
/// storage, a shared local weight folder) plus the grid's grains and rollout engine.
/// </summary>
public sealed class GridCluster : IAsyncDisposable
{
    private GridCluster(InProcessTestCluster cluster, IReadOnlyList<SiloRole> roles, string weights)
    {
        Cluster = cluster;
        Roles = roles;
        WeightFolder = weights;
    }

    public InProcessTestCluster Cluster { get; }

    public IReadOnlyList<SiloRole> Roles { get; }

    public string WeightFolder { get; }

    public IClusterClient Client => Cluster.Client;

    public static async Task<GridCluster> StartAsync(params SiloRole[] roles)
    {
        var builder = new InProcessTestClusterBuilder((short)roles.Length);
        builder.Options.AssumeHomogenousSilosForTesting = false; // otherwise Orleans skips placement filters
        builder.Options.ConfigureFileLogging = false;
        string weights = Directory.CreateTempSubdirectory("grid-grains-weights-").FullName;
        builder.ConfigureSilo((silo, siloBuilder) =>
        {
            var role = roles[int.Parse(silo.SiloName.Split('_')[1])];
            var options = new GridSiloOptions
            {
                GpuDevices = role.GpuDevices,
                AllowCpuLearner = role.AllowCpuLearner,
                WeightFolder = weights,
            }.Validate();
            siloBuilder
                .AddGridMembership(options)
                .AddGridPlacement(options.GpuDevices, options.AllowCpuLearner)
                .AddGridStorage(options)
                .AddGridGrains();
        });
        builder.ConfigureClient(client =>
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(30)));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        var gridCluster = new GridCluster(cluster, roles, weights);
        await gridCluster.WaitForSiloMetadataAsync();
        return gridCluster;
    }

    /// <summary>Silo address (as grains report it) to its role.</summary>
    public SiloRole RoleOf(string siloAddress)
    {
        var silo = Cluster.Silos.Single(s => s.SiloAddress.ToString() == siloAddress);
        return Roles[int.Parse(silo.Name.Split('_')[1])];
    }

    /// <summary>Starts a run and waits until it completes (or fails the test after <paramref name="timeout"/>).</summary>
    public async Task<(RunStatus Status, StepReport[] Reports)> RunAsync(string runId, RunSpec spec, TimeSpan timeout)
    {
        var controller = Client.GetGrain<IControllerGrain>(runId);
        await controller.Start(spec);
        var deadline = DateTime.UtcNow + timeout;
        var status = await controller.GetStatus();
        while (status.State == RunState.Running)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(
                    $"Run {runId} did not complete within {timeout}: {status.StepsCompleted}/{status.TotalSteps} steps, "
                    + $"last error: {status.LastError ?? "none"}.");
            }

            await Task.Delay(50);
            status = await controller.GetStatus();
        }

        return (status, await controller.GetStepReports(0));
    }

    public async ValueTask DisposeAsync()
    {
        await Cluster.DisposeAsync();
        try
        {
            Directory.Delete(WeightFolder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Silo metadata travels after a silo joins; wait until every silo knows every other's.</summary>
    private async Task WaitForSiloMetadataAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!AllMetadataKnown())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Silos did not learn each other's metadata within 30 s.");
            }

            await Task.Delay(50);
        }
    }

    private bool AllMetadataKnown()
    {
        foreach (var observer in Cluster.Silos)
        {
            var cache = observer.SiloHost.Services.GetRequiredService<ISiloMetadataCache>();
            foreach (var silo in Cluster.Silos)
            {
                var role = Roles[int.Parse(silo.Name.Split('_')[1])];
                var metadata = cache.GetSiloMetadata(silo.SiloAddress).Metadata;
                if ((role.GpuDevices > 0 && !metadata.ContainsKey(GridSiloMetadata.Gpu))
                    || (role.AllowCpuLearner && !metadata.ContainsKey(GridSiloMetadata.CpuLearner)))
                {
                    return false;
                }
            }
        }

        return true;
    }
}
