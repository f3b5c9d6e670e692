using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Grid.Contracts.Runs;
using Grid.Grains;
using Grid.Grains.Datasets;
using Grid.Grains.Mapping;
using Grid.Grains.Rollouts;
using Grid.Hosting.Configuration;
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

    /// <summary>Each silo's own fresh dataset cache, so a test sees every download a silo makes.</summary>
    private readonly ConcurrentBag<string> _datasetCaches;

    private GridCluster(PlacementCluster cluster, ConcurrentBag<string> caches)
    {
        _cluster = cluster;
        _datasetCaches = caches;
    }

    /// <summary>The dataset cache of the silo at <paramref name="index"/> (as started).</summary>
    public SiloDatasets Datasets(int index) => _cluster.Cluster.Silos[index].SiloHost.Services.GetRequiredService<SiloDatasets>();

    public IClusterClient Client => _cluster.Client;

    /// <summary>The silos, to kill, stop or add one.</summary>
    public PlacementCluster Placement => _cluster;

    public static Task<GridCluster> StartAsync(params SiloRole[] roles) => StartAsync(roles, initialSilos: null, azureStorage: null);

    /// <param name="roles">One per silo, including silos started later with <see cref="PlacementCluster.StartSiloAsync"/>.</param>
    /// <param name="initialSilos">Silos started now (default: all).</param>
    /// <param name="azureStorage">Azurite connection string for durable grain state and weights (default: memory).</param>
    /// <param name="rollouts">Every silo's rollout engine options (default: the product's).</param>
    /// <param name="configureSilo">Runs after the grains are added (e.g. to wrap the weight store).</param>
    public static async Task<GridCluster> StartAsync(SiloRole[] roles, int? initialSilos, string? azureStorage,
        RolloutEngineOptions? rollouts = null, Action<ISiloBuilder>? configureSilo = null)
    {
        var caches = new ConcurrentBag<string>();
        return new(await PlacementCluster.StartAsync(roles, silo =>
        {
            AddGrains(silo, rollouts, caches);
            configureSilo?.Invoke(silo);
        }, TimeSpan.FromSeconds(30),
            azureStorage is null
                ? null
                : ($"grid-{Guid.NewGuid():N}", o => o with { Storage = StorageMode.Azure, AzureStorageConnectionString = azureStorage }),
            initialSilos), caches);
    }

    /// <summary>
    /// A cluster on lasting storage (the storage argument of PlacementCluster.StartAsync: silo options and service id);
    /// <paramref name="configureSilo"/> runs after the grains are added (e.g. to wrap the weight store).
    /// </summary>
    public static async Task<GridCluster> StartAsync(SiloRole[] roles,
        (string ServiceId, Func<GridSiloOptions, GridSiloOptions> Options) storage,
        Action<ISiloBuilder>? configureSilo = null)
    {
        var caches = new ConcurrentBag<string>();
        return new(await PlacementCluster.StartAsync(roles, silo =>
        {
            AddGrains(silo, rollouts: null, caches);
            configureSilo?.Invoke(silo);
        }, TimeSpan.FromSeconds(30), storage), caches);
    }

    private static void AddGrains(ISiloBuilder silo, RolloutEngineOptions? rollouts, ConcurrentBag<string> caches)
    {
        string cache = Directory.CreateTempSubdirectory("grid-silo-datasets-").FullName;
        caches.Add(cache);
        silo.AddGridGrains(rollouts, cache);
        silo.Services.AddMetrics();
        silo.Services.AddSingleton(sp => new GridMetrics(sp.GetRequiredService<IMeterFactory>()));
    }

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
        var run = await RunTracker.StartAsync(Client, runId, spec, spec.Settings.PromptsPerStep);
        var status = await run.WaitForEndAsync(timeout);
        return (status, await run.Controller.GetStepReports(0));
    }

    public async ValueTask DisposeAsync()
    {
        await _cluster.DisposeAsync();
        foreach (string cache in _datasetCaches)
        {
            try
            {
                Directory.Delete(cache, recursive: true);
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException)
            {
            }
        }
    }
}
