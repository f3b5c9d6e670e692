using System.Diagnostics;
using Grid.Contracts.Learning;
using Grid.Contracts.Rollouts;
using Grid.Contracts.Runs;
using Grid.Grains.Tests.Infrastructure;
using Grid.Hosting.Configuration;
using Grid.Hosting.Placement;
using Grid.Training.Settings;

namespace Grid.Grains.Tests.Runs;

/// <summary>
/// Azurite (grain state in Azure Table, weights and checkpoints in Azure Blob) goes away for 10 s in the middle of a
/// run and comes back on the same ports and data: the run waits, then completes with every group counted once.
/// Own Azurite (its own class fixture), because the test takes it down.
/// </summary>
public sealed class StorageOutageTests(AzuriteFixture azurite, ITestOutputHelper output) : IClassFixture<AzuriteFixture>
{
    private const int Steps = 6;
    private const string RunId = "outage";

    [Fact]
    public async Task A_run_waits_out_a_10_s_storage_outage_and_completes_with_no_group_lost_or_counted_twice()
    {
        var ct = TestContext.Current.CancellationToken;
        var settings = TestRuns.Smoke($"steps={Steps}");
        settings = settings with { InitCheckpoint = TestRuns.WarmStart(settings) };
        string suffix = Guid.NewGuid().ToString("N")[..8];
        var storage = ($"outage-{suffix}", (Func<GridSiloOptions, GridSiloOptions>)(o => o with
        {
            Storage = StorageMode.Azure,
            AzureStorageConnectionString = azurite.ConnectionString,
            WeightContainer = $"outage-{suffix}",
        }));
        await using var cluster = await GridCluster.StartAsync([SiloRole.CpuLearner, SiloRole.Plain], storage);
        var controller = cluster.Client.GetGrain<IControllerGrain>(RunId);
        await controller.Start(new RunSpec(settings, AllowCpuLearner: true));

        // Mid-run: two steps done, the third under way.
        var before = await cluster.WaitForAsync(RunId, s => s.StepsCompleted >= 2, TimeSpan.FromSeconds(90));
        var clock = Stopwatch.StartNew();
        await azurite.Server.StopAsync(); // graceful: Azurite saves its data, then exits
        double secondsStopping = clock.Elapsed.TotalSeconds;
        await Task.Delay(TimeSpan.FromSeconds(10), ct);
        var during = await controller.GetStatus(); // the controller answers from memory meanwhile
        await azurite.Server.StartAsync();
        double secondsDown = clock.Elapsed.TotalSeconds;
        var next = await cluster.WaitForAsync(RunId, s => s.StepsCompleted > during.StepsCompleted || s.State != RunState.Running,
            TimeSpan.FromSeconds(120));
        double secondsToNextStep = clock.Elapsed.TotalSeconds - secondsDown;
        var final = await cluster.WaitForAsync(RunId, s => s.State != RunState.Running, TimeSpan.FromSeconds(120));
        var reports = await controller.GetStepReports(0);
        output.WriteLine($"outage began after {before.StepsCompleted} steps; Azurite took {secondsStopping:F1} s to stop, was down "
            + $"{secondsDown:F1} s in all ({during.StepsCompleted} steps done during it); first step completed "
            + $"{secondsToNextStep:F1} s after it was back (step {next.StepsCompleted - 1}); whole run done "
            + $"{clock.Elapsed.TotalSeconds:F1} s after the outage began");

        Assert.Equal(RunState.Completed, final.State);
        Assert.Equal(Enumerable.Range(0, Steps).Select(s => (long)s), reports.Select(r => r.Step));
        Assert.Equal(Enumerable.Range(1, Steps).Select(v => (long)v), reports.Select(r => r.Weights!.Version));
        Assert.All(reports, r => Assert.Equal((settings.PromptsPerStep, 0), (r.Groups, r.FailedGroups)));
        var learner = await cluster.Client.GetGrain<ILearnerGrain>(LearnerKey.Create(RunId, allowCpu: true)).GetStatus();
        Assert.Equal(Enumerable.Range(0, Steps + 1).Select(v => (long)v), learner.PublishedVersions); // no gap, no repeat
        for (int step = 0; step < Steps; step++)
        {
            for (int prompt = 0; prompt < settings.PromptsPerStep; prompt++)
            {
                var group = await cluster.Client.GetGrain<IPromptGroupGrain>(PromptGroupKey.Create(RunId, step, prompt)).GetStatus();
                Assert.Equal(GroupPhase.Delivered, group.Phase);
            }
        }
    }
}
