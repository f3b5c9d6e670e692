using Grid.Contracts.Learning;
using Grid.Contracts.Rollouts;
using Grid.Contracts.Runs;
using Grid.Grains.Tests.Infrastructure;
using Grid.Hosting.Placement;

namespace Grid.Grains.Tests.Runs;

public sealed class SiloRoleRunTests(ITestOutputHelper output)
{
    [Fact]
    public async Task With_one_learner_only_and_two_rollout_only_silos_groups_never_touch_the_learner_silo_and_the_run_completes()
    {
        const int Steps = 3, Prompts = 6;
        var settings = TestRuns.Smoke($"steps={Steps}", $"prompts_per_step={Prompts}");
        settings = settings with { InitCheckpoint = TestRuns.WarmStart(settings) };
        // The second rollout silo declares a GPU: its role, not its compute, keeps the learner off it.
        await using var cluster = await GridCluster.StartAsync(SiloRole.LearnerOnlyGpu, SiloRole.RolloutOnly, SiloRole.RolloutOnlyGpu);

        const string RunId = "split-roles";
        var (status, reports) = await cluster.RunAsync(RunId,
            new RunSpec(settings, AllowCpuLearner: false), TimeSpan.FromSeconds(120));

        Assert.Equal(RunState.Completed, status.State);
        Assert.Equal(Enumerable.Range(0, Steps).Select(s => (long)s), reports.Select(r => r.Step));
        var learner = await cluster.Client.GetGrain<ILearnerGrain>(LearnerKey.Create(RunId)).GetStatus();
        Assert.Equal(SiloRole.LearnerOnlyGpu, cluster.RoleOf(learner.Silo));

        var groups = await Task.WhenAll(
            from step in Enumerable.Range(0, Steps)
            from prompt in Enumerable.Range(0, Prompts)
            select cluster.Client.GetGrain<IPromptGroupGrain>(PromptGroupKey.Create(RunId, step, prompt)).GetStatus());
        Assert.All(groups, g => Assert.Equal(GroupPhase.Delivered, g.Phase));
        var silos = groups.GroupBy(g => g.Silo).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine($"learner on {learner.Silo}; groups per silo: {string.Join(", ", silos.Select(s => $"{s.Key}={s.Value}"))}");
        Assert.DoesNotContain(groups, g => g.Silo == learner.Silo);
        // 18 random placements over the 2 rollout silos miss one with probability 2 * 2^-18 < 1e-5.
        Assert.Equal(2, silos.Count);
    }
}
