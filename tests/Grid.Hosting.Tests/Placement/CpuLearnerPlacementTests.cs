using Grid.Hosting.Placement;
using Grid.Hosting.Tests.Grains;
using Grid.Hosting.Tests.Infrastructure;

namespace Grid.Hosting.Tests.Placement;

public sealed class CpuLearnerPlacementTests(CpuLearnerAndPlainCluster fixture) : IClassFixture<CpuLearnerAndPlainCluster>
{
    private PlacementCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task A_cpu_ok_learner_lands_on_the_cpu_learner_silo_when_no_gpu_silo_exists()
    {
        var silos = await Task.WhenAll(Enumerable.Range(0, 10).Select(i =>
            Cluster.Client.GetGrain<ILearnerProbeGrain>(LearnerKey.Create($"cpu-run-{i}", allowCpu: true))
                .GetSiloAddress()));

        Assert.All(silos, silo => Assert.Equal(SiloRole.CpuLearner, Cluster.RoleOf(silo)));
    }

    [Fact]
    public async Task A_learner_with_no_eligible_silo_fails_fast_naming_the_missing_metadata_and_the_fix()
    {
        var learner = Cluster.Client.GetGrain<ILearnerProbeGrain>(LearnerKey.Create("gpu-only-run"));

        var error = await Assert.ThrowsAsync<NoLearnerSiloException>(
            () => learner.GetSiloAddress().WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken));

        Assert.Contains("'grid.gpu'", error.Message);
        Assert.Contains("grid silo --gpu", error.Message);
        Assert.Contains("LearnerKey.Create(runId, allowCpu: true)", error.Message);
        Assert.Contains("grid.cpu-learner=true", error.Message); // what the active silos do declare
    }
}
