using Grid.Hosting.Placement;
using Grid.Hosting.Tests.Grains;
using Grid.Hosting.Tests.Infrastructure;

namespace Grid.Hosting.Tests.Placement;

public sealed class GpuPlacementTests(TwoGpuOnePlainCluster fixture) : IClassFixture<TwoGpuOnePlainCluster>
{
    private PlacementCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Twenty_learners_all_land_on_the_gpu_silos()
    {
        var silos = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            Cluster.Client.GetGrain<ILearnerProbeGrain>(LearnerKey.Create($"gpu-run-{i}")).GetSiloAddress()));

        Assert.All(silos, silo => Assert.Equal(SiloRole.Gpu, Cluster.RoleOf(silo)));
    }

    [Fact]
    public async Task A_grain_without_the_learner_attribute_can_land_on_the_silo_without_a_gpu()
    {
        var silos = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            Cluster.Client.GetGrain<IAnywhereProbeGrain>($"anywhere-{i}").GetSiloAddress()));

        // 40 random placements over 3 silos miss the plain silo with probability (2/3)^40 < 1e-7.
        Assert.Contains(silos, silo => Cluster.RoleOf(silo) == SiloRole.Plain);
    }
}
