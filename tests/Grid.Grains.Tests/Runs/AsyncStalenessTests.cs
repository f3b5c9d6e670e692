using Grid.Contracts.Learning;
using Grid.Contracts.Rollouts;
using Grid.Contracts.Runs;
using Grid.Grains.Tests.Infrastructure;
using Grid.Hosting.Placement;
using Grid.Training.Settings;

namespace Grid.Grains.Tests.Runs;

/// <summary>
/// Asynchronous GRPO-D (rollouts.max_staleness k &gt; 0) on a one-silo grid: the groups of the next k steps sample with
/// the newest weights while the learner updates, no trained group lags more than k versions, and a group sampled beyond
/// the bound is refused, counted with its step and sampled again with the newest weights.
/// </summary>
public sealed class AsyncStalenessTests(ITestOutputHelper output)
{
    private const int Steps = 4;

    [Fact]
    public async Task With_max_staleness_1_the_run_completes_and_no_trained_group_lags_more_than_one_version()
    {
        var settings = TestRuns.Smoke($"steps={Steps}", "sft.steps=40", "sft.learning_rate=0.01", "learning_rate=0.003",
            "rollouts.max_staleness=1");
        settings = settings with { InitCheckpoint = TestRuns.WarmStart(settings) };
        int prompts = settings.PromptsPerStep;

        await using var cluster = await GridCluster.StartAsync(SiloRole.CpuLearner);
        var (status, reports) = await cluster.RunAsync("async-k1",
            new RunSpec(settings, AllowCpuLearner: true), TimeSpan.FromSeconds(120));

        foreach (var r in reports)
        {
            output.WriteLine($"step {r.Step} (version {r.PolicyVersion}): staleness [{string.Join(",", r.StalenessGroups)}], "
                + $"dropped {r.DroppedStaleGroups}, loss {r.Loss:R}, importance weight mean {r.ImportanceWeightMean:R} max "
                + $"{r.ImportanceWeightMax:R} capped {r.ImportanceWeightCappedFraction:R}, learner idle {r.LearnerIdleFraction:P0}");
        }

        Assert.Equal(RunState.Completed, status.State);
        Assert.Equal(Enumerable.Range(0, Steps).Select(s => (long)s), reports.Select(r => r.Step));
        Assert.Equal(Enumerable.Range(0, Steps).Select(s => (long)s), reports.Select(r => r.PolicyVersion));
        Assert.Equal(Enumerable.Range(1, Steps).Select(v => (long)v), reports.Select(r => r.Weights!.Version));
        Assert.All(reports, r =>
        {
            Assert.InRange(r.StalenessGroups.Length, 1, 2); // no index beyond k = 1
            Assert.Equal(prompts, r.StalenessGroups.Sum());
            Assert.Equal(prompts, r.Groups);
            Assert.Equal(0, r.FailedGroups);
            Assert.True(double.IsFinite(r.Loss), $"step {r.Step} loss {r.Loss}");
            Assert.True(double.IsFinite(r.ImportanceWeightMean) && r.ImportanceWeightMean > 0, $"step {r.Step}: {r.ImportanceWeightMean}");
            Assert.True(r.ImportanceWeightMax >= r.ImportanceWeightMean, $"step {r.Step}: max {r.ImportanceWeightMax} < mean");
            Assert.InRange(r.LearnerIdleFraction, 0, 1);
        });
        Assert.Equal([prompts], reports[0].StalenessGroups); // step 0 has nothing older than version 0
        // The groups of step s + 1 started with version s while the learner updated step s: they trained one version behind,
        // every step after the first (a step whose look-ahead started late would train on its own version instead).
        Assert.All(reports.Skip(1), r => Assert.Equal([0, prompts], r.StalenessGroups));
        Assert.Contains(reports, r => r.Loss != 0);
    }

    /// <summary>
    /// A group of the run's last step sampled by version 0 is beyond the bound for k = 0 and k = 1: the learner refuses it
    /// with its newest weights and counts it in that step's DroppedStaleGroups; the step trains the group the run itself
    /// delivers. A group of a step already applied is not refused (the learner no longer needs it).
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task A_group_sampled_beyond_the_bound_is_refused_with_the_newest_weights_and_counted_in_its_step(int maxStaleness)
    {
        const int LastStep = 2;
        var settings = TestRuns.Smoke($"steps={LastStep + 1}", $"rollouts.max_staleness={maxStaleness}");
        settings = settings with { InitCheckpoint = TestRuns.WarmStart(settings) };
        string runId = $"stale-path-k{maxStaleness}";
        await using var cluster = await GridCluster.StartAsync(SiloRole.CpuLearner);
        var learner = cluster.Client.GetGrain<ILearnerGrain>(LearnerKey.Create(runId, allowCpu: true));
        var run = await RunTracker.StartAsync(cluster.Client, runId, new RunSpec(settings, AllowCpuLearner: true),
            settings.PromptsPerStep);

        // As soon as the learner is set up (version 0 published), long before the last step is applied.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!(await learner.GetStatus()).Initialized)
        {
            Assert.True(DateTime.UtcNow < deadline, "the learner was not set up within 60 s");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        var rollout = new RolloutRecord([1, 2], [-0.5f, -0.5f], "x", 0, 0, 0);
        var stale = new ScoredGroupRecord(LastStep, 0, PolicyVersion: 0, [rollout, rollout], [0, 0], 0, 0);
        var receipt = await learner.SubmitGroup(stale);
        var newest = (await learner.GetStatus()).PublishedVersions.Max();

        Assert.NotNull(receipt.ResampleWith);
        Assert.InRange(receipt.ResampleWith.Version, 0, newest);
        Assert.True(receipt.ResampleWith.Version < LastStep, $"step {LastStep} was already applied: {receipt.ResampleWith}");
        Assert.False(string.IsNullOrEmpty(receipt.ResampleWith.Sha256));
        Assert.NotNull((await learner.SubmitGroup(stale)).ResampleWith); // refused again, counted once

        var status = await run.WaitForEndAsync(TimeSpan.FromSeconds(120));
        await run.AssertEveryStepCompletedOnceAsync(status, LastStep + 1);
        var reports = await run.Controller.GetStepReports(0);
        output.WriteLine($"refused with version {receipt.ResampleWith.Version}; dropped per step: "
            + string.Join(", ", reports.Select(r => $"{r.Step}: {r.DroppedStaleGroups} [{string.Join(",", r.StalenessGroups)}]")));
        Assert.Equal([0, 0, 1], reports.Select(r => r.DroppedStaleGroups)); // counted once for its prompt
        Assert.All(reports, r => Assert.True(r.StalenessGroups.Length <= maxStaleness + 1));
        Assert.Equal(settings.PromptsPerStep, reports[LastStep].StalenessGroups.Sum()); // the run's own group was trained
        Assert.Equal(SubmitReceipt.Taken, await learner.SubmitGroup(stale)); // its step is applied: ignored, not refused
    }
}
