using Grid.Contracts.Runs;
using Grid.Grains;
using Grid.Hosting.Tests.Infrastructure;

namespace Grid.Grains.Tests.Infrastructure;

/// <summary>
/// The Hosting tests' <see cref="PlacementCluster"/> (silo i declares <c>roles[i]</c>; placement, memory storage, a
/// shared local weight folder), plus the grid's grains and rollout engine on every silo.
/// </summary>
public sealed class GridCluster : IAsyncDisposable
{
    private readonly PlacementCluster _cluster;

    private GridCluster(PlacementCluster cluster) => _cluster = cluster;

    public IClusterClient Client => _cluster.Client;

    public static async Task<GridCluster> StartAsync(params SiloRole[] roles) =>
        new(await PlacementCluster.StartAsync(roles, silo => silo.AddGridGrains(), TimeSpan.FromSeconds(30)));

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
