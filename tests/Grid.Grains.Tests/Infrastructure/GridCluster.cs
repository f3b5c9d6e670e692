using System.Diagnostics.Metrics;
using Grid.Contracts.Runs;
using Grid.Grains;
using Grid.Hosting.Tests.Infrastructure;
using Grid.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace Grid.Grains.Tests.Infrastructure;

/// <summary>
/// The Hosting tests' <see cref="PlacementCluster"/> (silo i declares <c>roles[i]</c>; placement, memory storage, a
/// shared local weight folder), plus the grid's grains, rollout engine and <see cref="GridMetrics"/> on every silo.
/// </summary>
public sealed class GridCluster : IAsyncDisposable
{
    private readonly PlacementCluster _cluster;

    private GridCluster(PlacementCluster cluster) => _cluster = cluster;

    public IClusterClient Client => _cluster.Client;

    /// <summary>The silos, to kill, stop or add one.</summary>
    public PlacementCluster Placement => _cluster;

    public static Task<GridCluster> StartAsync(params SiloRole[] roles) => StartAsync(roles, initialSilos: null, azureStorage: null);

    /// <param name="roles">One per silo, including silos started later with <see cref="PlacementCluster.StartSiloAsync"/>.</param>
    /// <param name="initialSilos">Silos started now (default: all).</param>
    /// <param name="azureStorage">Azurite connection string for durable grain state and weights (default: memory).</param>
    public static async Task<GridCluster> StartAsync(SiloRole[] roles, int? initialSilos, string? azureStorage) =>
        new(await PlacementCluster.StartAsync(roles, silo =>
        {
            silo.AddGridGrains();
            silo.Services.AddMetrics();
            silo.Services.AddSingleton(sp => new GridMetrics(sp.GetRequiredService<IMeterFactory>()));
        }, TimeSpan.FromSeconds(30), initialSilos, azureStorage));

    /// <summary>Silo address (as grains report it) to its role.</summary>
    public SiloRole RoleOf(string siloAddress) => _cluster.RoleOf(siloAddress);

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

    public ValueTask DisposeAsync() => _cluster.DisposeAsync();
}
