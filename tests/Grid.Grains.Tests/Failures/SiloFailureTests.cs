using Grid.Contracts.Learning;
using Grid.Contracts.Rollouts;
using Grid.Contracts.Runs;
using Grid.Grains.Rollouts;
using Grid.Grains.Tests.Infrastructure;
using Grid.Hosting.Placement;
using Grid.Training.Settings;
using Orleans.TestingHost;

namespace Grid.Grains.Tests.Failures;

/// <summary>
/// Silos die, join and leave while a run is in flight on an in-process grid whose grain state and weights live in
/// Azurite (as in a real cluster: memory grain storage would die with the silo that holds it). The run must complete
/// with every group counted once and the weight versions in order; the tests print the recovery times.
/// </summary>
public sealed class SiloFailureTests(AzuriteFixture azurite, ITestOutputHelper output) : IClassFixture<AzuriteFixture>
{
    private const int Steps = 6;
    private const int Prompts = 6;
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(120);

    /// <summary>
    /// Every batch of every rollout engine waits 0.8 s for company before it generates, so each attempt takes that
    /// long: a silo stopped right after one of its groups started generating stops it mid-attempt.
    /// </summary>
    private static readonly RolloutEngineOptions SlowBatches = new()
    {
        QuietPeriod = TimeSpan.FromMilliseconds(800),
        MaxLinger = TimeSpan.FromMilliseconds(800),
    };

    /// <param name="maxStaleness">
    /// rollouts.max_staleness: 0, the synchronous run, or 1, where the killed silo also held groups of the next step,
    /// started ahead; they come back when their step starts, still sampled by the version they were given.
    /// </param>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task A_rollout_silo_killed_mid_step_loses_no_group_and_the_step_completes_on_the_survivors(int maxStaleness)
    {
        string runId = $"kill-rollout-silo-k{maxStaleness}";
        await using var cluster = await StartClusterAsync([SiloRole.Gpu, SiloRole.Plain, SiloRole.Plain]);
        // A one-step warm start, shared by both runs: its samples depend on their seeds (a fully warm-started policy
        // answers almost deterministically, which would hide a retry that drew other seeds).
        var settings = TestRuns.Smoke($"steps={Steps}", $"prompts_per_step={Prompts}", "sft.steps=1",
            $"rollouts.max_staleness={maxStaleness}");
        settings = settings with { InitCheckpoint = TestRuns.WarmStart(settings) };
        var run = await StartRunAsync(cluster, runId, settings);
        await run.WaitForStepsAsync(2, RunTimeout); // rollout engines loaded, learner warm
        string learnerSilo = (await Learner(cluster, runId).GetStatus()).Silo;

        var (step, groups) = await run.WaitForGeneratingAsync(silo => silo != learnerSilo, RunTimeout, lookAhead: maxStaleness);
        var generating = RunTracker.Generating(groups, silo => silo != learnerSilo);
        string victim = generating[0].Silo;
        var lost = Unfinished(groups, victim);
        var midAttempt = generating.Where(g => g.Silo == victim).Select(g => g.Key).ToHashSet();
        string controllerSilo = await ControllerSiloAsync(cluster, runId);
        var (recovery, status) = await KillMidStepAsync(cluster, run, victim, step);

        output.WriteLine($"killed {victim} (controller {(controllerSilo == victim ? "was" : "was not")} on it) mid-step {step} "
            + $"with {midAttempt.Count} of its groups generating; step {step} completed {recovery.TotalSeconds:F2} s after the kill");
        await run.AssertEveryStepCompletedOnceAsync(status, Steps);
        AssertLostGroupsFinishedElsewhere(await run.GroupsAsync(step), victim, lost, midAttempt);

        // A lost attempt's retry draws the lost one's sampling seeds: the run trained what an uninterrupted run trains.
        var uninterrupted = await StartRunAsync(cluster, runId + "-uninterrupted", settings);
        await uninterrupted.WaitForEndAsync(RunTimeout);
        var expected = await uninterrupted.Controller.GetStepReports(0);
        var actual = await run.Controller.GetStepReports(0);
        // What the samples were (entropy along them, their lengths), then what the update made of them.
        Assert.Equal(expected.Select(r => r.TokensGenerated), actual.Select(r => r.TokensGenerated));
        Assert.Equal(expected.Select(r => r.RewardMean), actual.Select(r => r.RewardMean));
        if (maxStaleness == 0)
        {
            Assert.Equal(expected.Select(r => r.Entropy), actual.Select(r => r.Entropy));
            Assert.Equal(expected.Select(r => r.Loss), actual.Select(r => r.Loss));
            Assert.Equal(expected.Select(r => r.Weights!.Sha256), actual.Select(r => r.Weights!.Sha256));
        }
        else
        {
            // Asynchronous updates weight the samples by their recorded sampling log-probs, which batched generation
            // makes agree to rounding only (RestartResumeTests says why): the same samples, the same update to rounding.
            Assert.All(expected.Zip(actual), p => Assert.Equal(p.First.Loss, p.Second.Loss, 1e-6));
            Assert.All(expected.Zip(actual), p => Assert.Equal(p.First.Entropy, p.Second.Entropy, 1e-5));
        }

        AssertStaleness(actual, maxStaleness);
    }

    /// <param name="maxStaleness">
    /// rollouts.max_staleness: with 1 the dead learner had taken groups of the next step too; the new learner gets them
    /// again when that step starts, and every step still trains its groups one version behind.
    /// </param>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task When_the_learners_silo_dies_the_learner_comes_back_on_the_other_gpu_silo_and_no_version_repeats_or_is_skipped(
        int maxStaleness)
    {
        string runId = $"kill-learner-silo-k{maxStaleness}";
        await using var cluster = await StartClusterAsync([SiloRole.Gpu, SiloRole.Gpu, SiloRole.Plain]);
        var run = await StartRunAsync(cluster, runId, Settings(Steps, $"rollouts.max_staleness={maxStaleness}"));
        await run.WaitForStepsAsync(2, RunTimeout);
        string victim = (await Learner(cluster, runId).GetStatus()).Silo;
        string otherGpu = cluster.Placement.SilosWith(SiloRole.Gpu).Single(s => s != victim);

        var (step, groups) = await run.WaitForGeneratingAsync(silo => silo == victim, RunTimeout);
        var lost = Unfinished(groups, victim);
        var midAttempt = RunTracker.Generating(groups, silo => silo == victim).Select(g => g.Key).ToHashSet();
        string controllerSilo = await ControllerSiloAsync(cluster, runId);
        var (recovery, status) = await KillMidStepAsync(cluster, run, victim, step);

        var learner = await Learner(cluster, runId).GetStatus();
        output.WriteLine($"killed the learner's silo {victim} (controller {(controllerSilo == victim ? "was" : "was not")} on it) "
            + $"mid-step {step}; the learner came back on {learner.Silo} and step {step} completed "
            + $"{recovery.TotalSeconds:F2} s after the kill; new learner published {string.Join(",", learner.PublishedVersions)}");
        await run.AssertEveryStepCompletedOnceAsync(status, Steps);
        Assert.Equal(otherGpu, learner.Silo);
        // The new learner started from the last recorded weights (the version the step sampled from) and published
        // each later version once.
        Assert.Equal(Enumerable.Range((int)step, Steps - (int)step + 1).Select(v => (long)v), learner.PublishedVersions);
        // Groups delivered before the kill handed their persisted result to the new learner; none was sampled again.
        var after = await run.GroupsAsync(step);
        AssertLostGroupsFinishedElsewhere(after, victim, lost, midAttempt);
        output.WriteLine($"step {step} groups: {string.Join(", ", after.Select(g => $"{g.Key} x{g.Attempts}"))}; lost with the silo: {lost.Count}");
        AssertStaleness(await run.Controller.GetStepReports(0), maxStaleness);
    }

    [Fact]
    public async Task A_silo_that_joins_mid_run_gets_groups_and_a_silo_that_leaves_hands_its_groups_off()
    {
        const string RunId = "join-and-leave";
        const int LongerRun = 10;
        await using var cluster = await StartClusterAsync([SiloRole.Gpu, SiloRole.Plain, SiloRole.Plain], initialSilos: 2);
        var run = await StartRunAsync(cluster, RunId, Settings(LongerRun));
        var joinedAfter = await run.WaitForStepsAsync(2, RunTimeout);
        string leaving = cluster.Placement.SilosWith(SiloRole.Plain).Single();
        var joinedAt = run.Elapsed;
        string joined = (await cluster.Placement.StartSiloAsync()).SiloAddress.ToString();

        // The new silo receives prompt groups of the steps that start after it joined; nothing restarts.
        long firstStepOnJoined = -1;
        for (long step = joinedAfter.StepsCompleted; firstStepOnJoined < 0 && step < LongerRun - 3; step++)
        {
            await run.WaitForStepsAsync(step + 1, RunTimeout);
            if ((await run.GroupsAsync(step)).Any(g => g.Silo == joined))
            {
                firstStepOnJoined = step;
            }
        }

        Assert.True(firstStepOnJoined >= 0, $"no group of steps {joinedAfter.StepsCompleted}..{LongerRun - 4} ran on the joined silo {joined}");
        output.WriteLine($"silo {joined} joined after step {joinedAfter.StepsCompleted - 1} ({joinedAt.TotalSeconds:F1} s into the run); "
            + $"step {firstStepOnJoined} already ran groups on it");

        // A graceful stop mid-step: its groups move to the other silos and the step completes.
        var (leftStep, groups) = await run.WaitForGeneratingAsync(silo => silo == leaving, RunTimeout);
        var handedOff = RunTracker.Generating(groups, silo => silo == leaving).Select(g => g.Key).ToHashSet();
        var stoppedAt = run.Elapsed;
        await cluster.Placement.Cluster.StopSiloAsync(Silo(cluster, leaving), TestContext.Current.CancellationToken);
        var stopTook = run.Elapsed - stoppedAt;
        await run.WaitForStepsAsync(leftStep + 1, RunTimeout);
        var handoff = run.Elapsed - stoppedAt;
        var status = await run.WaitForEndAsync(RunTimeout);

        await run.AssertEveryStepCompletedOnceAsync(status, LongerRun);
        var moved = (await run.GroupsAsync(leftStep)).Where(g => handedOff.Contains(g.Key)).ToArray();
        Assert.All(moved, g =>
        {
            // Finished before the silo left (1 attempt: a graceful stop lets running turns end), or moved and retried.
            Assert.Equal(GroupPhase.Delivered, g.Phase);
            Assert.NotEqual(leaving, g.Silo);
            Assert.InRange(g.Attempts, 1, 2);
        });
        output.WriteLine($"stopped {leaving} gracefully mid-step {leftStep} with {handedOff.Count} group(s) generating; the stop took "
            + $"{stopTook.TotalSeconds:F2} s and step {leftStep} completed {handoff.TotalSeconds:F2} s after it began; "
            + $"attempts of those groups: {string.Join(",", moved.Select(g => g.Attempts))}");
    }

    /// <summary>Groups of a step's snapshot that sat on <paramref name="silo"/> and had not delivered yet.</summary>
    private static HashSet<string> Unfinished(IEnumerable<PromptGroupStatus> groups, string silo) =>
        groups.Where(g => g.Silo == silo && g.Phase != GroupPhase.Delivered).Select(g => g.Key).ToHashSet();

    /// <summary>
    /// Every group of the step was delivered once. Those lost with the victim finished on a survivor: the ones caught
    /// mid-attempt with exactly one more attempt (the lost one counted once), the others (delivered between the
    /// snapshot and the kill) with at most that. Every other group kept its single attempt.
    /// </summary>
    private static void AssertLostGroupsFinishedElsewhere(PromptGroupStatus[] after, string victim, HashSet<string> lost,
        HashSet<string> midAttempt)
    {
        Assert.All(after, g => Assert.Equal(GroupPhase.Delivered, g.Phase));
        Assert.All(after.Where(g => lost.Contains(g.Key)), g =>
        {
            Assert.NotEqual(victim, g.Silo);
            Assert.InRange(g.Attempts, 1, 2);
        });
        Assert.All(after.Where(g => midAttempt.Contains(g.Key)), g => Assert.Equal(2, g.Attempts));
        Assert.All(after.Where(g => !lost.Contains(g.Key)), g => Assert.Equal(1, g.Attempts));
    }

    private Task<GridCluster> StartClusterAsync(SiloRole[] roles, int? initialSilos = null) =>
        GridCluster.StartAsync(roles, initialSilos, azurite.ConnectionString, SlowBatches);

    /// <summary>
    /// No trained group lags more than <paramref name="maxStaleness"/> versions, none was dropped, and in an asynchronous
    /// run every step after the first trains all its groups exactly one version behind (they started while the learner
    /// updated the step before), kills or not.
    /// </summary>
    private void AssertStaleness(StepReport[] reports, int maxStaleness)
    {
        output.WriteLine("staleness by step: " + string.Join(" ", reports.Select(r => $"[{string.Join(",", r.StalenessGroups)}]")));
        Assert.All(reports, r =>
        {
            Assert.InRange(r.StalenessGroups.Length, 1, maxStaleness + 1);
            Assert.Equal(r.Groups, r.StalenessGroups.Sum());
            Assert.Equal(0, r.DroppedStaleGroups);
        });
        if (maxStaleness == 1)
        {
            Assert.All(reports.Skip(1), r => Assert.Equal([0, Prompts], r.StalenessGroups));
        }
    }

    private static RunSettings Settings(int steps, params string[] overrides)
    {
        var settings = TestRuns.Smoke([$"steps={steps}", $"prompts_per_step={Prompts}", .. overrides]);
        return settings with { InitCheckpoint = TestRuns.WarmStart(settings) };
    }

    private static async Task<RunTracker> StartRunAsync(GridCluster cluster, string runId, RunSettings settings)
    {
        return await RunTracker.StartAsync(cluster.Client, runId,
            new RunSpec(settings, AllowCpuLearner: false), Prompts);
    }

    private static ILearnerGrain Learner(GridCluster cluster, string runId) =>
        cluster.Client.GetGrain<ILearnerGrain>(LearnerKey.Create(runId));

    private static InProcessSiloHandle Silo(GridCluster cluster, string address) =>
        cluster.Placement.Cluster.Silos.Single(s => s.SiloAddress.ToString() == address);

    /// <summary>Kills the silo, then waits for its step to complete (the recovery, timed from the kill) and the run to end.</summary>
    private static async Task<(TimeSpan Recovery, RunStatus Status)> KillMidStepAsync(GridCluster cluster, RunTracker run,
        string victim, long step)
    {
        var killedAt = run.Elapsed;
        await cluster.Placement.Cluster.KillSiloAsync(Silo(cluster, victim), TestContext.Current.CancellationToken);
        await run.WaitForStepsAsync(step + 1, RunTimeout);
        var recovery = run.Elapsed - killedAt;
        return (recovery, await run.WaitForEndAsync(RunTimeout));
    }

    private static async Task<string> ControllerSiloAsync(GridCluster cluster, string runId) =>
        (await cluster.Client.GetGrain<IManagementGrain>(0)
            .GetActivationAddress(cluster.Client.GetGrain<IControllerGrain>(runId)))?.ToString() ?? "none";
}
