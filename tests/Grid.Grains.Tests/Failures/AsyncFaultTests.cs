using Grid.Contracts.Learning;
using Grid.Contracts.Runs;
using Grid.Grains.Rollouts;
using Grid.Grains.Tests.Infrastructure;
using Grid.Hosting.Placement;
using Grid.Training.Faults;
using Grid.Training.Settings;

namespace Grid.Grains.Tests.Failures;

/// <summary>
/// The staleness bound of asynchronous GRPO-D (rollouts.max_staleness k) holds through everything that makes a group
/// sample again: injected generation faults (throws, and stalls that the attempt timeout ends) retried, and a rollout
/// silo killed mid-run with groups of several steps in flight on it. Three in-process silos on Azurite, as in
/// <see cref="SiloFailureTests"/>.
/// </summary>
public sealed class AsyncFaultTests(AzuriteFixture azurite, ITestOutputHelper output) : IClassFixture<AzuriteFixture>
{
    private const int Steps = 6;
    private const int Prompts = 6;
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(180);

    /// <summary>Every batch waits 0.8 s for company, so an attempt lasts long enough for the kill to land in one.</summary>
    private static readonly RolloutEngineOptions SlowBatches = new()
    {
        QuietPeriod = TimeSpan.FromMilliseconds(800),
        MaxLinger = TimeSpan.FromMilliseconds(800),
    };

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task With_retried_faults_and_a_killed_rollout_silo_no_trained_group_lags_more_than_max_staleness(int maxStaleness)
    {
        var settings = TestRuns.Smoke($"steps={Steps}", $"prompts_per_step={Prompts}", "sft.steps=1",
            $"rollouts.max_staleness={maxStaleness}", "rollouts.max_attempts=5", "rollouts.attempt_timeout_seconds=5",
            "rollouts.backoff_initial_seconds=0.05", "rollouts.backoff_max_seconds=0.2",
            "faults.generation_throw_share=0.15", "faults.generation_stall_share=0.05");
        // Faults that are retried (throws and at least one stall), none that spends a group's budget even with an
        // attempt lost to the kill on top, and a clean step 0 (the engines load then, which may outlast the timeout).
        var plan = FaultPlan.Find(settings, $"async-faults-k{maxStaleness}", p =>
            p.FailedGroups == 0 && p.Groups.All(g => g.Attempts.Count <= 2) && p.Retries >= 3
            && p.Step(0).All(g => g.Attempts.Count == 1)
            && p.Groups.Any(g => g.Attempts.Contains(InjectedFault.GenerationStalls))
            && p.Groups.Any(g => g.Attempts.Contains(InjectedFault.GenerationThrows)));
        output.WriteLine($"run {plan.RunId}: {plan}");
        settings = settings with { InitCheckpoint = TestRuns.WarmStart(settings) };

        await using var cluster = await GridCluster.StartAsync([SiloRole.Gpu, SiloRole.Plain, SiloRole.Plain], null,
            azurite.ConnectionString, SlowBatches);
        var run = await RunTracker.StartAsync(cluster.Client, plan.RunId, new RunSpec(settings, AllowCpuLearner: false), Prompts);
        await run.WaitForStepsAsync(2, RunTimeout); // engines loaded, learner warm
        string learnerSilo = (await cluster.Client.GetGrain<ILearnerGrain>(LearnerKey.Create(plan.RunId)).GetStatus()).Silo;
        var (step, groups) = await run.WaitForGeneratingAsync(silo => silo != learnerSilo, RunTimeout, lookAhead: maxStaleness);
        string victim = RunTracker.Generating(groups, silo => silo != learnerSilo)[0].Silo;
        await cluster.KillSiloAsync(victim);
        var status = await run.WaitForEndAsync(RunTimeout);

        var reports = await run.Controller.GetStepReports(0);
        var learner = await cluster.Client.GetGrain<ILearnerGrain>(LearnerKey.Create(plan.RunId)).GetStatus();
        foreach (var r in reports)
        {
            output.WriteLine($"step {r.Step} (version {r.PolicyVersion}): {r.Groups} groups, {r.FailedGroups} failed, "
                + $"{r.RetriedAttempts} retried attempts, staleness [{string.Join(",", r.StalenessGroups)}], dropped "
                + $"{r.DroppedStaleGroups}, importance weight mean {r.ImportanceWeightMean:F4} max {r.ImportanceWeightMax:F3}");
        }

        output.WriteLine($"killed {victim} mid-step {step}; learner published {string.Join(",", learner.PublishedVersions)}");
        Assert.True(status.State == RunState.Completed, $"run ended {status.State}: {status.LastError}");
        // Every step once, in order, each updating its own version once: none lost, none repeated.
        Assert.Equal(Enumerable.Range(0, Steps).Select(s => (long)s), reports.Select(r => r.Step));
        Assert.Equal(Enumerable.Range(0, Steps).Select(s => (long)s), reports.Select(r => r.PolicyVersion));
        Assert.Equal(Enumerable.Range(1, Steps).Select(v => (long)v), reports.Select(r => r.Weights!.Version));
        Assert.Equal(Enumerable.Range(0, Steps + 1).Select(v => (long)v), learner.PublishedVersions);
        Assert.All(reports, r =>
        {
            Assert.Equal(Prompts, r.Groups + r.FailedGroups); // every group counted once, trained or failed
            Assert.InRange(r.StalenessGroups.Length, 1, maxStaleness + 1); // the bound: no trained group beyond k
            Assert.Equal(r.Groups, r.StalenessGroups.Sum());
            Assert.True(double.IsFinite(r.Loss), $"step {r.Step} loss {r.Loss}");
        });
        // Retried groups kept the weights they were started with: step s >= k trains on version s - k.
        Assert.All(reports.Where(r => r.Step >= maxStaleness && r.Groups > 0),
            r => Assert.Equal(r.Groups, r.StalenessGroups[maxStaleness]));
        // The planned faults were retried (a lost attempt counts too).
        Assert.True(reports.Sum(r => r.RetriedAttempts) >= plan.Retries,
            $"{reports.Sum(r => r.RetriedAttempts)} retried attempts, {plan.Retries} planned");
        Assert.True(reports.Sum(r => r.RetriedAttempts) > 0);
    }
}
