using System.Diagnostics;
using Azure.Storage.Blobs;
using Grid.Contracts.Runs;
using Grid.Grains.Tests.Infrastructure;
using Grid.Hosting.Configuration;
using Grid.Hosting.Weights;
using Grid.Training.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace Grid.Grains.Tests.Runs;

/// <summary>
/// The whole cluster dies mid-run; a new cluster on the same storage (Azurite: Azure Table grain state, Azure Blob
/// weights and checkpoints) resumes the run, and it trains exactly what an uninterrupted run trains.
/// </summary>
public sealed class RestartResumeTests(AzuriteFixture azurite, ITestOutputHelper output) : IClassFixture<AzuriteFixture>
{
    private const int Steps = 5;

    /// <summary>The crash comes after weights version 3 are published and before their checkpoint is written.</summary>
    private const long CrashVersion = 3;

    /// <param name="damage">
    /// What of the recorded version's checkpoint is truncated while the cluster is down: nothing, or its record or its
    /// weights (a damaged optimizer state takes the same hash check; LearnerCheckpointStore's tests cover it). A damaged checkpoint is refused by its hash; the run resumes from the previous
    /// good one (one more step runs again) and, being deterministic, still trains exactly the same.
    /// </param>
    /// <param name="maxStaleness">
    /// rollouts.max_staleness: with 1 (asynchronous GRPO-D) the groups of the step after the recorded one had started,
    /// sampled by the recorded version, before the crash; the resumed run continues with those recorded versions.
    /// </param>
    [Theory]
    [InlineData("nothing", 0)]
    [InlineData("record", 0)]
    [InlineData("weights", 0)]
    [InlineData("nothing", 1)]
    public async Task After_a_full_cluster_restart_resume_trains_exactly_what_an_uninterrupted_run_trains(string damage,
        int maxStaleness)
    {
        // Adaptive KL with a short horizon, so beta depends on the run's history and must come back from storage too.
        var settings = TestRuns.Smoke($"steps={Steps}", "sft.steps=40", "sft.learning_rate=0.01", "learning_rate=0.003",
            "kl.kind=adaptive", "kl.horizon=20", "kl.target_kl=0.001", $"rollouts.max_staleness={maxStaleness}");
        settings = settings with { InitCheckpoint = TestRuns.WarmStart(settings) };
        var spec = new RunSpec(settings, AllowCpuLearner: true);
        string suffix = Guid.NewGuid().ToString("N")[..8];
        string container = $"resume-{suffix}";
        var storage = ($"resume-{suffix}", (Func<GridSiloOptions, GridSiloOptions>)(o => o with
        {
            Storage = StorageMode.Azure,
            AzureStorageConnectionString = azurite.ConnectionString,
            WeightContainer = container,
        }));
        var store = new AzureBlobWeightStore(azurite.ConnectionString, container);
        using var crash = new CrashingWeightStore(store, "interrupted", CrashVersion);

        // First cluster: the uninterrupted run to the end, and the interrupted one until the crash point.
        var clock = Stopwatch.StartNew();
        RunStatus uninterrupted;
        StepReport[] expected;
        await using (var first = await GridCluster.StartAsync([SiloRole.CpuLearner], storage,
            silo => silo.Services.AddSingleton<IWeightStore>(crash)))
        {
            await first.Client.GetGrain<IControllerGrain>("interrupted").Start(spec);
            (uninterrupted, expected) = await first.RunAsync("uninterrupted", spec, TimeSpan.FromSeconds(120));
            await crash.Reached.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
            await first.KillAllSilosAsync();
        }

        double secondsFirst = clock.Elapsed.TotalSeconds;
        Assert.Equal(RunState.Completed, uninterrupted.State);
        var pointerAtCrash = await store.GetLatestAsync("interrupted", TestContext.Current.CancellationToken);
        Assert.Equal(CrashVersion, pointerAtCrash!.Version); // weights 3 were published; their checkpoint never was
        string? damaged = await DamageAsync(container, damage, CrashVersion - 1);
        long resumeVersion = damaged is null ? CrashVersion - 1 : CrashVersion - 2;

        // Second cluster, same storage: resume.
        clock.Restart();
        RunStatus resumed, final;
        StepReport[] actual;
        await using (var second = await GridCluster.StartAsync([SiloRole.CpuLearner], storage))
        {
            var controller = second.Client.GetGrain<IControllerGrain>("interrupted");
            resumed = await controller.Resume();
            final = await second.WaitForAsync("interrupted", s => s.State != RunState.Running, TimeSpan.FromSeconds(120));
            actual = await controller.GetStepReports(0);
        }

        output.WriteLine($"first cluster (uninterrupted run + interrupted run to the crash) {secondsFirst:F1} s; "
            + $"second cluster start + resume + {Steps - CrashVersion + 1} steps {clock.Elapsed.TotalSeconds:F1} s");
        // The controller recorded version 2, so step 2 runs again; from version 1 when version 2's checkpoint is damaged.
        Assert.Equal(resumeVersion, resumed.StepsCompleted);
        Assert.Equal(resumeVersion, resumed.PolicyVersion);
        if (damaged is null)
        {
            Assert.Null(resumed.LastError);
        }
        else
        {
            output.WriteLine($"resume said: {resumed.LastError}");
            Assert.Contains($"refused newer checkpoint(s): version {CrashVersion - 1}", resumed.LastError);
            Assert.Contains(damaged, resumed.LastError);
            Assert.Contains($"from weights version {resumeVersion}", resumed.LastError);
        }

        Assert.Equal(RunState.Completed, final.State);
        Assert.Equal(Enumerable.Range(0, Steps).Select(s => (long)s), actual.Select(r => r.Step));
        Assert.Equal(Enumerable.Range(1, Steps).Select(v => (long)v), actual.Select(r => r.Weights!.Version));
        AssertStaleness(actual, maxStaleness);

        // Asynchronous runs sample the same tokens (per-completion seeds) but weight them by the sampler's recorded
        // log-probs, which come from batched generation: how groups of two steps happened to share a batch moves them
        // in the last float bits, so two asynchronous runs (interrupted or not) agree to rounding, not bit for bit.
        bool exact = maxStaleness == 0;
        double maxLoss = 0, maxKl = 0;
        for (int step = 0; step < Steps; step++)
        {
            output.WriteLine($"step {step}: loss {expected[step].Loss:R} / {actual[step].Loss:R}; beta {expected[step].Beta:R} / "
                + $"{actual[step].Beta:R}; kl {expected[step].KlMean:R} / {actual[step].KlMean:R}; weights "
                + $"{expected[step].Weights!.Sha256[..12]} / {actual[step].Weights!.Sha256[..12]}");
            maxLoss = Math.Max(maxLoss, Math.Abs(expected[step].Loss - actual[step].Loss));
            maxKl = Math.Max(maxKl, Math.Abs(expected[step].KlMean - actual[step].KlMean));
            Assert.Equal(expected[step].Loss, actual[step].Loss, 1e-6);
            Assert.Equal(expected[step].Beta, actual[step].Beta, exact ? 1e-12 : 1e-9);
            Assert.Equal(expected[step].KlMean, actual[step].KlMean, exact ? 1e-9 : 1e-6);
            Assert.Equal(expected[step].GradNorm, actual[step].GradNorm, exact ? 1e-6 : 1e-4);
            Assert.Equal(expected[step].RewardMean, actual[step].RewardMean); // the same samples
            Assert.Equal(expected[step].TokensGenerated, actual[step].TokensGenerated);
            if (exact)
            {
                Assert.Equal(expected[step].Weights!.Sha256, actual[step].Weights!.Sha256);
            }
        }

        Assert.Equal(uninterrupted.Beta!.Value, final.Beta!.Value, exact ? 0 : 1e-9);
        var checkpoints = new LearnerCheckpointStore(store);
        var expectedOptimizer = await checkpoints.ReadAsync("uninterrupted", Steps, TestContext.Current.CancellationToken);
        var actualOptimizer = await checkpoints.ReadAsync("interrupted", Steps, TestContext.Current.CancellationToken);
        Assert.NotNull(actualOptimizer?.Optimizer);
        if (exact)
        {
            Assert.Equal(uninterrupted.Weights!.Sha256, final.Weights!.Sha256);
            Assert.Equal(expectedOptimizer!.Optimizer!.Sha256, actualOptimizer!.Optimizer!.Sha256);
        }

        Assert.Contains(expected, r => r.Loss != 0 && r.KlMean > 0); // the comparison is not between zeros
        output.WriteLine($"damage: {damage}, max_staleness {maxStaleness}; max |loss difference| {maxLoss:E2}, max |kl difference| "
            + $"{maxKl:E2}; final weights sha256 {uninterrupted.Weights!.Sha256[..16]} / {final.Weights!.Sha256[..16]}; final "
            + $"optimizer state sha256 {expectedOptimizer!.Optimizer!.Sha256[..16]} / {actualOptimizer!.Optimizer!.Sha256[..16]} "
            + $"({actualOptimizer.OptimizerBytes} bytes)");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task When_the_learners_silo_dies_a_learner_set_up_from_the_recorded_version_repeats_and_skips_no_version(
        int maxStaleness)
    {
        // Two silos that can host the learner; the learner's dies while it writes the checkpoint of version 3 (weights 3
        // already published). The survivor sets a learner up from the controller's version exactly as resume does.
        var settings = TestRuns.Smoke($"steps={Steps}", "sft.steps=40", "sft.learning_rate=0.01", "learning_rate=0.003",
            $"rollouts.max_staleness={maxStaleness}");
        settings = settings with { InitCheckpoint = TestRuns.WarmStart(settings) };
        var spec = new RunSpec(settings, AllowCpuLearner: true);
        string suffix = Guid.NewGuid().ToString("N")[..8];
        var storage = ($"silo-death-{suffix}", (Func<GridSiloOptions, GridSiloOptions>)(o => o with
        {
            Storage = StorageMode.Azure,
            AzureStorageConnectionString = azurite.ConnectionString,
            WeightContainer = $"silo-death-{suffix}",
        }));
        using var crash = new CrashingWeightStore(new AzureBlobWeightStore(azurite.ConnectionString, $"silo-death-{suffix}"),
            "learner-lost", CrashVersion);
        await using var cluster = await GridCluster.StartAsync([SiloRole.CpuLearner, SiloRole.CpuLearner], storage,
            silo => silo.Services.AddSingleton<IWeightStore>(crash));
        var (_, expected) = await cluster.RunAsync("uninterrupted", spec, TimeSpan.FromSeconds(120));

        var controller = cluster.Client.GetGrain<IControllerGrain>("learner-lost");
        await controller.Start(spec);
        await crash.Reached.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        var learner = cluster.Client.GetGrain<Contracts.Learning.ILearnerGrain>(
            Hosting.Placement.LearnerKey.Create("learner-lost", allowCpu: true));
        string lostSilo = (await learner.GetStatus()).Silo;
        var clock = Stopwatch.StartNew();
        await cluster.KillSiloAsync(lostSilo);
        crash.Dispose(); // the dead silo's write never happened

        RunStatus resumed = await ResumeWhenReachableAsync(controller);
        var final = await cluster.WaitForAsync("learner-lost", s => s.State != RunState.Running, TimeSpan.FromSeconds(120));
        var actual = await controller.GetStepReports(0);
        var status = await learner.GetStatus();
        output.WriteLine($"learner's silo killed at version {CrashVersion}; set up again on {status.Silo} at step "
            + $"{resumed.StepsCompleted}; run completed {clock.Elapsed.TotalSeconds:F1} s after the kill; versions the new "
            + $"learner published: {string.Join(", ", status.PublishedVersions)}");

        Assert.NotEqual(lostSilo, status.Silo);
        Assert.Equal(RunState.Completed, final.State);
        Assert.Equal(Enumerable.Range((int)CrashVersion - 1, Steps - (int)CrashVersion + 2).Select(v => (long)v),
            status.PublishedVersions); // from the recorded version 2 on: 3 once more (never recorded), then each once
        Assert.Equal(Enumerable.Range(1, Steps).Select(v => (long)v), actual.Select(r => r.Weights!.Version));
        if (maxStaleness == 0)
        {
            Assert.Equal(expected.Select(r => r.Loss), actual.Select(r => r.Loss));
            Assert.Equal(expected.Select(r => r.Weights!.Sha256), actual.Select(r => r.Weights!.Sha256));
        }
        else
        {
            // The same samples; their sampling log-probs (the behaviour policy) agree to rounding only (see above).
            Assert.Equal(expected.Select(r => r.RewardMean), actual.Select(r => r.RewardMean));
            Assert.Equal(expected.Select(r => r.TokensGenerated), actual.Select(r => r.TokensGenerated));
            Assert.All(expected.Zip(actual), p => Assert.Equal(p.First.Loss, p.Second.Loss, 1e-6));
        }

        AssertStaleness(actual, maxStaleness);
        Assert.Equal(expected.Select(r => string.Join(",", r.StalenessGroups)), actual.Select(r => string.Join(",", r.StalenessGroups)));
    }

    /// <summary>
    /// One report per step, each updating the version of its step (no version missing or repeated across the restart),
    /// no trained group more than <paramref name="maxStaleness"/> versions behind, none dropped; with k = 1 every step
    /// after the first trained all its groups one version behind, before the restart and after.
    /// </summary>
    private void AssertStaleness(StepReport[] reports, int maxStaleness)
    {
        output.WriteLine("staleness by step: " + string.Join(" ", reports.Select(r => $"[{string.Join(",", r.StalenessGroups)}]")));
        Assert.Equal(Enumerable.Range(0, Steps).Select(v => (long)v), reports.Select(r => r.PolicyVersion));
        Assert.All(reports, r =>
        {
            Assert.InRange(r.StalenessGroups.Length, 1, maxStaleness + 1);
            Assert.Equal(r.Groups, r.StalenessGroups.Sum());
            Assert.Equal(0, r.DroppedStaleGroups);
        });
        if (maxStaleness == 1)
        {
            Assert.All(reports.Skip(1), r => Assert.Equal(2, r.StalenessGroups.Length));
            Assert.All(reports.Skip(1), r => Assert.Equal(0, r.StalenessGroups[0]));
        }
    }

    /// <summary>Resume, retried while the dead silo's grains (perhaps the controller) are still being re-placed.</summary>
    private static async Task<RunStatus> ResumeWhenReachableAsync(IControllerGrain controller)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                return await controller.Resume();
            }
            catch (Exception error) when (DateTime.UtcNow < deadline && error is not Xunit.Sdk.XunitException)
            {
                await Task.Delay(500);
            }
        }
    }

    /// <summary>Truncates one part of version <paramref name="version"/>'s checkpoint; returns its name, or null.</summary>
    private async Task<string?> DamageAsync(string container, string damage, long version)
    {
        if (damage == "nothing")
        {
            return null;
        }

        var ct = TestContext.Current.CancellationToken;
        var blobs = new BlobServiceClient(azurite.ConnectionString).GetBlobContainerClient(container);
        var checkpoint = await new LearnerCheckpointStore(new AzureBlobWeightStore(azurite.ConnectionString, container))
            .ReadAsync("interrupted", version, ct);
        string name = damage switch
        {
            "optimizer" => new BlobUriBuilder(checkpoint!.Optimizer!.Uri).BlobName,
            "weights" => new BlobUriBuilder(checkpoint!.Weights.Uri).BlobName,
            "record" => $"interrupted/records/{LearnerCheckpoint.RecordName(version)}",
            _ => throw new ArgumentOutOfRangeException(nameof(damage), damage, "nothing, optimizer, record or weights"),
        };
        var blob = blobs.GetBlobClient(name);
        byte[] bytes = (await blob.DownloadContentAsync(ct)).Value.Content.ToArray();
        await blob.UploadAsync(BinaryData.FromBytes(bytes[..(bytes.Length / 2)]), overwrite: true, ct);
        return damage == "record" ? LearnerCheckpoint.RecordName(version) : blob.Uri.ToString();
    }
}
