using Grid.Contracts.Learning;
using Grid.Contracts.Rollouts;
using Grid.Contracts.Runs;
using Grid.Grains.Tests.Infrastructure;
using Grid.Hosting.Placement;

namespace Grid.Grains.Tests.Runs;

/// <summary>Where a real run's learner and prompt groups land, by the silos' declared compute and role.</summary>
public sealed class ClusterPlacementTests(ITestOutputHelper output)
{
    [Fact]
    public async Task On_three_silos_two_with_a_gpu_the_learner_sits_on_a_gpu_silo_groups_spread_and_the_run_completes()
    {
        await using var cluster = await GridCluster.StartAsync(SiloRole.Gpu, SiloRole.Gpu, SiloRole.Plain);
        var (learnerSilo, groupsPerSilo) = await RunAndPlaceAsync(cluster, "three-silos", steps: 4, prompts: 6, TimeSpan.FromSeconds(90));

        Assert.Equal(SiloRole.Gpu, cluster.RoleOf(learnerSilo));
        // 24 random placements over 3 silos miss one with probability 3 * (2/3)^24 < 2e-4.
        Assert.Equal(3, groupsPerSilo.Count);
    }

    [Fact]
    public async Task With_one_learner_only_and_two_rollout_only_silos_groups_never_touch_the_learner_silo_and_the_run_completes()
    {
        // The second rollout silo declares a GPU: its role, not its compute, keeps the learner off it.
        await using var cluster = await GridCluster.StartAsync(SiloRole.LearnerOnlyGpu, SiloRole.RolloutOnly, SiloRole.RolloutOnlyGpu);
        var (learnerSilo, groupsPerSilo) = await RunAndPlaceAsync(cluster, "split-roles", steps: 3, prompts: 6, TimeSpan.FromSeconds(120));

        Assert.Equal(SiloRole.LearnerOnlyGpu, cluster.RoleOf(learnerSilo));
        Assert.DoesNotContain(learnerSilo, groupsPerSilo.Keys);
        // 18 random placements over the 2 rollout silos miss one with probability 2 * 2^-18 < 1e-5.
        Assert.Equal(2, groupsPerSilo.Count);
    }

    /// <summary>Runs a smoke run to completion (every step reported, every group delivered); where its learner and
    /// groups were.</summary>
    private async Task<(string LearnerSilo, Dictionary<string, int> GroupsPerSilo)> RunAndPlaceAsync(
        GridCluster cluster, string runId, int steps, int prompts, TimeSpan timeout)
    {
        var settings = TestRuns.Smoke($"steps={steps}", $"prompts_per_step={prompts}");
        settings = settings with { InitCheckpoint = TestRuns.WarmStart(settings) };
        var (status, reports) = await cluster.RunAsync(runId, new RunSpec(settings, AllowCpuLearner: false), timeout);

        Assert.Equal(RunState.Completed, status.State);
        Assert.Equal(Enumerable.Range(0, steps).Select(s => (long)s), reports.Select(r => r.Step));
        var learner = await cluster.Client.GetGrain<ILearnerGrain>(LearnerKey.Create(runId)).GetStatus();
        var groups = await Task.WhenAll(
            from step in Enumerable.Range(0, steps)
            from prompt in Enumerable.Range(0, prompts)
            select cluster.Client.GetGrain<IPromptGroupGrain>(PromptGroupKey.Create(runId, step, prompt)).GetStatus());
        Assert.All(groups, g => Assert.Equal(GroupPhase.Delivered, g.Phase));
        var silos = groups.GroupBy(g => g.Silo).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine($"learner on {learner.Silo}; groups per silo: {string.Join(", ", silos.Select(s => $"{s.Key}={s.Value}"))}");
        return (learner.Silo, silos);
    }
}
