using Grid.Hosting.Configuration;
using Grid.Hosting.Placement;
using Grid.Hosting.Tests.Grains;
using Grid.Hosting.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Grid.Hosting.Tests.Placement;

/// <summary>A learner-only GPU silo, a rollout-only GPU silo and a plain silo of role both.</summary>
public sealed class SiloRoleCluster : IAsyncLifetime
{
    private PlacementCluster? _cluster;

    public PlacementCluster Cluster => _cluster ?? throw new InvalidOperationException("Cluster not started.");

    public async ValueTask InitializeAsync() => _cluster = await PlacementCluster.StartAsync(
        [SiloRole.LearnerOnlyGpu, SiloRole.RolloutOnlyGpu, SiloRole.Plain],
        silo => silo.AddRolloutPlacement(typeof(RolloutByTypeProbeGrain)), TimeSpan.FromSeconds(10));

    public async ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}

public sealed class SiloRolePlacementTests(SiloRoleCluster fixture) : IClassFixture<SiloRoleCluster>
{
    private PlacementCluster Cluster => fixture.Cluster;

    [Fact]
    public void Every_silo_publishes_its_role_and_the_others_learn_it()
    {
        foreach (var observer in Cluster.Cluster.Silos)
        {
            var cache = observer.SiloHost.Services.GetRequiredService<ISiloMetadataCache>();
            foreach (var silo in Cluster.Cluster.Silos)
            {
                string published = cache.GetSiloMetadata(silo.SiloAddress).Metadata[GridSiloMetadata.Role];
                Assert.Equal(GridSiloRoles.Name(Cluster.RoleOf(silo.SiloAddress.ToString()).Role), published);
            }
        }
    }

    [Fact]
    public async Task Rollout_grains_never_land_on_the_learner_only_silo_and_spread_over_the_others()
    {
        var silos = await Task.WhenAll(Enumerable.Range(0, 40).SelectMany(i => new[]
        {
            Cluster.Client.GetGrain<IRolloutProbeGrain>($"group-{i}").GetSiloAddress(),
            Cluster.Client.GetGrain<IRolloutByTypeProbeGrain>($"group-{i}").GetSiloAddress(),
        }));

        Assert.DoesNotContain(silos, silo => Cluster.RoleOf(silo) == SiloRole.LearnerOnlyGpu);
        // 80 random placements over 2 eligible silos miss one with probability 2 * 2^-80.
        Assert.Contains(silos, silo => Cluster.RoleOf(silo) == SiloRole.RolloutOnlyGpu);
        Assert.Contains(silos, silo => Cluster.RoleOf(silo) == SiloRole.Plain);
    }

    [Fact]
    public async Task Learners_never_land_on_the_rollout_only_silo_even_though_it_declares_a_gpu()
    {
        var silos = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            Cluster.Client.GetGrain<ILearnerProbeGrain>(LearnerKey.Create($"role-run-{i}", allowCpu: i % 2 == 0))
                .GetSiloAddress()));

        Assert.All(silos, silo => Assert.Equal(SiloRole.LearnerOnlyGpu, Cluster.RoleOf(silo)));
    }

    [Fact]
    public async Task Grains_without_a_filter_still_go_anywhere_including_the_learner_only_silo()
    {
        var silos = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            Cluster.Client.GetGrain<IAnywhereProbeGrain>($"anywhere-role-{i}").GetSiloAddress()));

        Assert.Equal(3, silos.Distinct().Count());
    }
}

/// <summary>Only a learner-only silo.</summary>
public sealed class LearnerOnlyCluster() : PlacementClusterFixture(SiloRole.LearnerOnlyGpu);

public sealed class LearnerOnlyClusterTests(LearnerOnlyCluster fixture) : IClassFixture<LearnerOnlyCluster>
{
    [Fact]
    public async Task A_rollout_grain_with_only_learner_silos_fails_fast_naming_the_roles_and_the_fix()
    {
        var group = fixture.Cluster.Client.GetGrain<IRolloutProbeGrain>("stranded-group");

        var error = await Assert.ThrowsAsync<NoRolloutSiloException>(
            () => group.GetSiloAddress().WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken));

        Assert.Contains("grid.role=learner", error.Message);
        Assert.Contains("--role rollout", error.Message);
        Assert.Contains("Grid:Role", error.Message);
    }

    [Fact]
    public async Task Its_learners_are_placed_there()
    {
        string silo = await fixture.Cluster.Client.GetGrain<ILearnerProbeGrain>(LearnerKey.Create("learner-only")).GetSiloAddress();

        Assert.Equal(SiloRole.LearnerOnlyGpu, fixture.Cluster.RoleOf(silo));
    }
}

/// <summary>Only rollout-only silos, one of them with a GPU.</summary>
public sealed class RolloutOnlyCluster() : PlacementClusterFixture(SiloRole.RolloutOnlyGpu, SiloRole.RolloutOnly);

public sealed class RolloutOnlyClusterTests(RolloutOnlyCluster fixture) : IClassFixture<RolloutOnlyCluster>
{
    [Fact]
    public async Task A_learner_with_only_rollout_silos_fails_fast_even_with_a_gpu_silo_naming_the_role()
    {
        var learner = fixture.Cluster.Client.GetGrain<ILearnerProbeGrain>(LearnerKey.Create("stranded-run", allowCpu: true));

        var error = await Assert.ThrowsAsync<NoLearnerSiloException>(
            () => learner.GetSiloAddress().WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken));

        Assert.Contains("grid.role=rollout", error.Message);
        Assert.Contains("learner or both (--role, Grid:Role)", error.Message);
        Assert.Contains("grid.gpu=1", error.Message); // the GPU it declares does not make it eligible
    }
}

public sealed class SiloRoleOptionsTests
{
    [Theory]
    [InlineData("rollout", GridSiloRole.Rollout)]
    [InlineData(" Learner ", GridSiloRole.Learner)]
    [InlineData("BOTH", GridSiloRole.Both)]
    public void Role_names_parse_in_any_case(string text, GridSiloRole expected) =>
        Assert.Equal(expected, GridSiloRoles.Parse(text, "--role"));

    [Theory]
    [InlineData("gpu")]
    [InlineData("1")]
    [InlineData("")]
    public void An_unknown_role_is_refused_naming_the_value_and_the_allowed_ones(string text)
    {
        var error = Assert.Throws<GridConfigurationException>(() => GridSiloRoles.Parse(text, "--role"));

        Assert.StartsWith($"--role is '{text}'; use rollout, learner or both", error.Message);
    }

    [Fact]
    public void Both_is_the_default_and_is_shown_by_to_string()
    {
        var options = new GridSiloOptions().Validate();

        Assert.Equal(GridSiloRole.Both, options.Role);
        Assert.Contains("Role = both", options.ToString());
        Assert.Contains("Role = rollout", (options with { Role = GridSiloRole.Rollout }).ToString());
    }

    [Fact]
    public void A_learner_only_silo_without_compute_and_a_rollout_only_silo_accepting_cpu_learners_are_refused()
    {
        var noCompute = Assert.Throws<GridConfigurationException>(
            () => new GridSiloOptions { Role = GridSiloRole.Learner }.Validate());
        var contradiction = Assert.Throws<GridConfigurationException>(
            () => new GridSiloOptions { Role = GridSiloRole.Rollout, AllowCpuLearner = true }.Validate());
        var undefined = Assert.Throws<GridConfigurationException>(
            () => new GridSiloOptions { Role = (GridSiloRole)9 }.Validate());

        Assert.Contains("Role is learner but the silo declares no GPU (GpuDevices, --gpu N)", noCompute.Message);
        Assert.Contains("--allow-cpu-learner", noCompute.Message);
        Assert.Contains("Role is rollout but AllowCpuLearner is set", contradiction.Message);
        Assert.Contains("Role is 9; use rollout, learner or both", undefined.Message);
        new GridSiloOptions { Role = GridSiloRole.Learner, GpuDevices = 1 }.Validate();
        new GridSiloOptions { Role = GridSiloRole.Learner, AllowCpuLearner = true }.Validate();
        new GridSiloOptions { Role = GridSiloRole.Rollout, GpuDevices = 2 }.Validate();
    }

    [Fact]
    public void Metadata_without_a_role_counts_as_both_as_silos_did_before_roles()
    {
        Assert.Equal(GridSiloRole.Both, GridSiloRoles.Of(new Dictionary<string, string>()));
        Assert.Equal(GridSiloRole.Learner, GridSiloRoles.Of(new Dictionary<string, string> { [GridSiloMetadata.Role] = "learner" }));
        Assert.False(RolloutPlacementFilterDirector.IsEligible(new Dictionary<string, string> { [GridSiloMetadata.Role] = "learner" }));
        Assert.False(LearnerPlacementFilterDirector.IsEligible(
            new Dictionary<string, string> { [GridSiloMetadata.Role] = "rollout", [GridSiloMetadata.Gpu] = "1" }, allowsCpu: true));
        Assert.True(LearnerPlacementFilterDirector.IsEligible(new Dictionary<string, string> { [GridSiloMetadata.Gpu] = "1" }, allowsCpu: false));
    }
}
