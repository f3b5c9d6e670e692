using System.Diagnostics;
using Grid.Hosting.Placement;
using Grid.Hosting.Tests.Grains;
using Grid.Hosting.Tests.Infrastructure;

namespace Grid.Hosting.Tests.Placement;

public sealed class LearnerFailoverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private PlacementCluster? _cluster;

    public async ValueTask InitializeAsync() =>
        _cluster = await PlacementCluster.StartAsync(SiloRole.Gpu, SiloRole.Gpu, SiloRole.Plain);

    public async ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_learner_on_a_killed_gpu_silo_reactivates_on_the_other_gpu_silo()
    {
        var ct = TestContext.Current.CancellationToken;
        var cluster = _cluster!;
        var learner = cluster.Client.GetGrain<ILearnerProbeGrain>(LearnerKey.Create("failover-run"));
        string before = await learner.GetSiloAddress().WaitAsync(ct);
        string otherGpu = cluster.SilosWith(SiloRole.Gpu).Single(silo => silo != before);
        var victim = cluster.Cluster.Silos.Single(silo => silo.SiloAddress.ToString() == before);

        var clock = Stopwatch.StartNew();
        await cluster.Cluster.KillSiloAsync(victim, ct);
        string? after = null;
        while (after is null && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            try
            {
                string silo = await learner.GetSiloAddress().WaitAsync(TimeSpan.FromSeconds(2), ct);
                after = silo == before ? null : silo;
            }
            catch (Exception error) when (error is not NoLearnerSiloException)
            {
                // the dead silo still owns the activation until membership declares it dead
            }

            if (after is null)
            {
                await Task.Delay(50, ct);
            }
        }

        output.WriteLine($"learner answered from {after} {clock.Elapsed.TotalSeconds:F2} s after killing {before}");
        Assert.Equal(otherGpu, after);
    }
}
