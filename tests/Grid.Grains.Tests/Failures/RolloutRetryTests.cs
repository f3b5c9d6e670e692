using Grid.Contracts.Learning;
using Grid.Contracts.Rollouts;
using Grid.Contracts.Runs;
using Grid.Grains.Tests.Infrastructure;
using Grid.Hosting.Placement;
using Grid.Training.Faults;
using Grid.Training.Settings;

namespace Grid.Grains.Tests.Failures;

/// <summary>
/// Injected faults (the run spec's <c>faults</c>) on a one-silo grid: failed attempts are retried up to the budget,
/// then the whole group is left out; every count is compared with the plan the injector fixes in advance.
/// </summary>
public sealed class RolloutRetryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task With_20_percent_generation_and_10_percent_verifier_faults_every_step_completes_and_the_counts_are_exact()
    {
        var settings = TestRuns.Smoke("steps=6", "prompts_per_step=2", "rollouts.max_attempts=2",
            "rollouts.backoff_initial_seconds=0.05", "rollouts.backoff_max_seconds=0.2",
            "faults.generation_throw_share=0.2", "faults.verifier_throw_share=0.1");
        // A run whose faults cover every case: a step all of whose groups fail, a step with one failed group, groups
        // that succeed on their retry, and both kinds of fault.
        var plan = FaultPlan.Find(settings, "faults", p =>
            p.AllFailedSteps.Any()
            && Enumerable.Range(0, settings.Steps).Any(s => p.Step(s).Count(g => g.Failed) == 1)
            && p.Groups.Any(g => g.Retried)
            && p.Groups.Any(g => g.Attempts.Contains(InjectedFault.GenerationThrows))
            && p.Groups.Any(g => g.Attempts.Contains(InjectedFault.VerifierThrows)));
        output.WriteLine($"run {plan.RunId}: {plan}");

        var (status, reports, groups) = await RunAsync(plan);

        Assert.Equal(RunState.Completed, status.State);
        Assert.Equal(Enumerable.Range(0, settings.Steps).Select(s => (long)s), reports.Select(r => r.Step));
        AssertCountsMatch(plan, reports, groups);
        foreach (long step in plan.AllFailedSteps)
        {
            var report = reports[step];
            Assert.True(report.UpdateSkipped, $"step {step} had no group and still updated");
            Assert.Contains("failed", report.SkipReason);
            Assert.Equal(0, report.Groups);
            Assert.Equal(0, report.Samples);
        }
    }

    [Fact]
    public async Task A_stalled_generation_fails_its_attempt_by_the_timeout_and_is_retried()
    {
        const double Timeout = 3;
        var settings = TestRuns.Smoke("steps=3", "prompts_per_step=3", "rollouts.max_attempts=2",
            $"rollouts.attempt_timeout_seconds={Timeout}", "rollouts.backoff_initial_seconds=0.05",
            "rollouts.backoff_max_seconds=0.2", "rollouts.group_deadline_seconds=10", "faults.generation_stall_share=0.3");
        // Step 0 runs clean: the silo's rollout engine loads its policy then, which on a loaded machine can take longer
        // than the short timeout this test uses. Later steps have a stall that is retried and one that is not.
        var plan = FaultPlan.Find(settings, "stalls", p =>
            p.Step(0).All(g => g.Attempts.Count == 1) && p.Groups.Any(g => g.Retried) && p.FailedGroups == 1);
        output.WriteLine($"run {plan.RunId}: {plan}");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (status, reports, groups) = await RunAsync(plan);

        Assert.Equal(RunState.Completed, status.State);
        AssertCountsMatch(plan, reports, groups);
        foreach (var failed in plan.Groups.Where(g => g.Failed))
        {
            Assert.Contains("rollouts.attempt_timeout_seconds", groups[(failed.Step, failed.Prompt)].LastError);
        }

        // Each step waits at least one timeout for its first stall; a stall that never ended would have hung the run.
        int stalledSteps = plan.Groups.Where(g => g.Attempts.Contains(InjectedFault.GenerationStalls)).Select(g => g.Step).Distinct().Count();
        Assert.True(clock.Elapsed.TotalSeconds >= stalledSteps * Timeout,
            $"{stalledSteps} step(s) with a stall finished in {clock.Elapsed.TotalSeconds:F1} s, faster than the {Timeout} s timeout allows");
        output.WriteLine($"{stalledSteps} step(s) with stalls; run took {clock.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>Runs the plan's run on one CPU-learner silo; returns the run, its reports and every group's status.</summary>
    private async Task<(RunStatus Status, StepReport[] Reports, Dictionary<(long, int), PromptGroupStatus> Groups)> RunAsync(
        FaultPlan plan)
    {
        var settings = plan.Settings with { InitCheckpoint = TestRuns.WarmStart(plan.Settings) };
        await using var cluster = await GridCluster.StartAsync(SiloRole.CpuLearner);
        using var metrics = new GridMetricsRecorder(plan.RunId);
        var (status, reports) = await cluster.RunAsync(plan.RunId,
            new RunSpec(settings, AllowCpuLearner: true), TimeSpan.FromSeconds(120));

        var groups = new Dictionary<(long, int), PromptGroupStatus>();
        foreach (var g in plan.Groups)
        {
            groups[(g.Step, g.Prompt)] = await cluster.Client
                .GetGrain<IPromptGroupGrain>(PromptGroupKey.Create(plan.RunId, g.Step, g.Prompt)).GetStatus();
        }

        var learner = await cluster.Client.GetGrain<ILearnerGrain>(LearnerKey.Create(plan.RunId, allowCpu: true)).GetStatus();
        Assert.Equal(Enumerable.Range(0, settings.Steps + 1).Select(v => (long)v), learner.PublishedVersions);

        // The metrics count each retry and each finished rollout once; every group that started also finished.
        int size = settings.GroupSize;
        output.WriteLine($"metrics: {metrics}");
        Assert.Equal(plan.Retries, metrics.Total("grid_rollout_retries"));
        Assert.Equal(plan.Groups.Count(p => p.Attempts.Count == 1 && !p.Failed) * size, metrics.Total("grid_rollouts", "ok"));
        Assert.Equal(plan.Groups.Count(p => p.Retried) * size, metrics.Total("grid_rollouts", "retried"));
        Assert.Equal(plan.FailedGroups * size, metrics.Total("grid_rollouts", "failed"));
        Assert.Equal(0, metrics.Total("grid_groups_in_flight"));
        return (status, reports, groups);
    }

    /// <summary>Every group ended as planned after exactly its planned attempts, and every step counts each group once.</summary>
    private void AssertCountsMatch(FaultPlan plan, StepReport[] reports,
        IReadOnlyDictionary<(long, int), PromptGroupStatus> groups)
    {
        foreach (var planned in plan.Groups)
        {
            var actual = groups[(planned.Step, planned.Prompt)];
            Assert.True(planned.Attempts.Count == actual.Attempts && (planned.Failed ? GroupPhase.Failed : GroupPhase.Delivered) == actual.Phase,
                $"group {planned}: {actual.Phase} after {actual.Attempts} attempt(s), last error: {actual.LastError}");
        }

        foreach (var report in reports)
        {
            int failed = plan.Step(report.Step).Count(g => g.Failed);
            Assert.Equal(failed, report.FailedGroups);
            Assert.Equal(plan.Settings.PromptsPerStep - failed, report.Groups);
            Assert.Equal(report.Groups * plan.Settings.GroupSize, report.Samples);
        }

        int retries = groups.Values.Sum(s => s.Attempts - 1);
        Assert.Equal(plan.Retries, retries);
        Assert.Equal(plan.FailedGroups, reports.Sum(r => r.FailedGroups));
        output.WriteLine($"{plan.Groups.Count} groups: {retries} retries, {plan.FailedGroups} failed groups "
            + $"({string.Join(", ", reports.Select(r => $"step {r.Step}: {r.Groups} in, {r.FailedGroups} failed"))})");
    }
}
