namespace Grid.Hosting.Tests.Infrastructure;

/// <summary>Base for fixtures that own one <see cref="PlacementCluster"/>.</summary>
public abstract class PlacementClusterFixture(params SiloRole[] roles) : IAsyncLifetime
{
    private PlacementCluster? _cluster;

    public PlacementCluster Cluster => _cluster ?? throw new InvalidOperationException("Cluster not started.");

    public async ValueTask InitializeAsync() => _cluster = await PlacementCluster.StartAsync(roles);

    public async ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}

/// <summary>Two GPU silos and one plain silo.</summary>
public sealed class TwoGpuOnePlainCluster() : PlacementClusterFixture(SiloRole.Gpu, SiloRole.Gpu, SiloRole.Plain);

/// <summary>No GPU: one silo accepting CPU learners, one plain silo.</summary>
public sealed class CpuLearnerAndPlainCluster() : PlacementClusterFixture(SiloRole.CpuLearner, SiloRole.Plain);
