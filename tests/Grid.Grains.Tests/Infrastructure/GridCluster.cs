using System.Diagnostics.Metrics;
using Grid.Contracts.Runs;
using Grid.Grains;
using Grid.Grains.Mapping;
using Grid.Grains.Rollouts;
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
    /// <param name="rollouts">Every silo's rollout engine options (default: the product's).</param>
    public static async Task<GridCluster> StartAsync(SiloRole[] roles, int? initialSilos, string? azureStorage,
        RolloutEngineOptions? rollouts = null) =>
        new(await PlacementCluster.StartAsync(roles, silo =>
        {
            silo.AddGridGrains(rollouts);
            silo.Services.AddMetrics();
            silo.Services.AddSingleton(sp => new GridMetrics(sp.GetRequiredService<IMeterFactory>()));
        }, TimeSpan.FromSeconds(30), initialSilos, azureStorage));

    /// <summary>Silo address (as grains report it) to its role.</summary>
    public SiloRole RoleOf(string siloAddress) => _cluster.RoleOf(siloAddress);

    /// <summary>Starts a run and waits until it completes (or fails the test after <paramref name="timeout"/>).</summary>
    public async Task<(RunStatus Status, StepReport[] Reports)> RunAsync(string runId, RunSpec spec, TimeSpan timeout)
    {
        var run = await RunTracker.StartAsync(Client, runId, spec, RunSettingsJson.Read(spec.SettingsJson).PromptsPerStep);
        var status = await run.WaitForEndAsync(timeout);
        return (status, await run.Controller.GetStepReports(0));
    }

    public ValueTask DisposeAsync() => _cluster.DisposeAsync();
}
