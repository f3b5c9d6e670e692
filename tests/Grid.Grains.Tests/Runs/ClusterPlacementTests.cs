using Grid.Contracts.Learning;
using Grid.Contracts.Rollouts;
using Grid.Contracts.Runs;
using Grid.Grains.Tests.Infrastructure;
using Grid.Hosting.Placement;
using Grid.Training.Settings;

namespace Grid.Grains.Tests.Runs;

public sealed class ClusterPlacementTests(ITestOutputHelper output)
{
    [Fact]
    public async Task On_three_silos_two_with_a_gpu_the_learner_sits_on_a_gpu_silo_groups_spread_and_the_run_completes()
    {
        const int Steps = 4, Prompts = 6;
        var settings = TestRuns.Smoke($"steps={Steps}", $"prompts_per_step={Prompts}");
        settings = settings with { InitCheckpoint = TestRuns.WarmStart(settings) };
        await using var cluster = await GridCluster.StartAsync(SiloRole.Gpu, SiloRole.Gpu, SiloRole.Plain);

        const string RunId = "three-silos";
        var (status, reports) = await cluster.RunAsync(RunId,
            new RunSpec(settings, AllowCpuLearner: false), TimeSpan.FromSeconds(90));

        Assert.Equal(RunState.Completed, status.State);
        Assert.Equal(Enumerable.Range(0, Steps).Select(s => (long)s), reports.Select(r => r.Step));
        var learner = await cluster.Client.GetGrain<ILearnerGrain>(LearnerKey.Create(RunId)).GetStatus();
        Assert.Equal(SiloRole.Gpu, cluster.RoleOf(learner.Silo));

        var groups = await Task.WhenAll(
            from step in Enumerable.Range(0, Steps)
            from prompt in Enumerable.Range(0, Prompts)
            select cluster.Client.GetGrain<IPromptGroupGrain>(PromptGroupKey.Create(RunId, step, prompt)).GetStatus());
        Assert.All(groups, g => Assert.Equal(GroupPhase.Delivered, g.Phase));
        var silos = groups.GroupBy(g => g.Silo).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine($"learner on {learner.Silo}; groups per silo: {string.Join(", ", silos.Select(s => $"{s.Key}={s.Value}"))}");
        // 24 random placements over 3 silos miss one with probability 3 * (2/3)^24 < 2e-4.
        Assert.Equal(3, silos.Count);
    }
}
