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

    /// <summary>
    /// A cluster on lasting storage (the storage argument of PlacementCluster.StartAsync: silo options and service id);
    /// <paramref name="configureSilo"/> runs after the grains are added (e.g. to wrap the weight store).
    /// </summary>
    public static async Task<GridCluster> StartAsync(SiloRole[] roles,
        (string ServiceId, Func<Hosting.Configuration.GridSiloOptions, Hosting.Configuration.GridSiloOptions> Options) storage,
        Action<ISiloBuilder>? configureSilo = null) =>
        new(await PlacementCluster.StartAsync(roles, silo =>
        {
            silo.AddGridGrains();
            configureSilo?.Invoke(silo);
        }, TimeSpan.FromSeconds(30), storage));

    /// <summary>Every silo dies at once, as in a power cut: nothing is stopped gracefully or written on the way out.</summary>
    public async Task KillAllSilosAsync()
    {
        foreach (var silo in _cluster.Cluster.Silos.ToArray())
        {
            await _cluster.Cluster.KillSiloAsync(silo);
        }
    }

    /// <summary>Kills the silo at <paramref name="siloAddress"/> (as grains report it), as a crash would.</summary>
    public Task KillSiloAsync(string siloAddress) =>
        _cluster.Cluster.KillSiloAsync(_cluster.Cluster.Silos.Single(s => s.SiloAddress.ToString() == siloAddress));

    /// <summary>Polls the run until <paramref name="done"/> holds for its status (or fails after <paramref name="timeout"/>).</summary>
    public async Task<RunStatus> WaitForAsync(string runId, Func<RunStatus, bool> done, TimeSpan timeout)
    {
        var controller = Client.GetGrain<IControllerGrain>(runId);
        var deadline = DateTime.UtcNow + timeout;
        var status = await controller.GetStatus();
        while (!done(status))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Run {runId} did not get there within {timeout}: {status.State}, "
                    + $"{status.StepsCompleted}/{status.TotalSteps} steps, last error: {status.LastError ?? "none"}.");
            }

            await Task.Delay(50);
            status = await controller.GetStatus();
        }

        return status;
    }

    /// <summary>Silo address (as grains report it) to its role.</summary>
    public SiloRole RoleOf(string siloAddress) => _cluster.RoleOf(siloAddress);

    /// <summary>Starts a run and waits until it completes (or fails the test after <paramref name="timeout"/>).</summary>
    public async Task<(RunStatus Status, StepReport[] Reports)> RunAsync(string runId, RunSpec spec, TimeSpan timeout)
    {
        var controller = Client.GetGrain<IControllerGrain>(runId);
        await controller.Start(spec);
        var status = await WaitForAsync(runId, s => s.State != RunState.Running, timeout);
        return (status, await controller.GetStepReports(0));
    }

    public ValueTask DisposeAsync() => _cluster.DisposeAsync();
}
