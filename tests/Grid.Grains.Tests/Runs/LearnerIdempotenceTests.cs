using Grid.Contracts.Learning;
using Grid.Contracts.Rollouts;
using Grid.Contracts.Runs;
using Grid.Grains.Tests.Infrastructure;
using Grid.Hosting.Placement;
using Grid.Training.Settings;

namespace Grid.Grains.Tests.Runs;

public sealed class LearnerIdempotenceTests
{
    [Fact]
    public async Task Redelivered_groups_duplicate_reports_and_a_redriven_step_never_apply_an_update_twice()
    {
        var settings = TestRuns.Smoke("steps=3");
        settings = settings with { InitCheckpoint = TestRuns.WarmStart(settings) };
        await using var cluster = await GridCluster.StartAsync(SiloRole.CpuLearner);
        const string RunId = "idempotence";
        var (_, reports) = await cluster.RunAsync(RunId,
            new RunSpec(settings, AllowCpuLearner: true), TimeSpan.FromSeconds(40));
        var learner = cluster.Client.GetGrain<ILearnerGrain>(LearnerKey.Create(RunId, allowCpu: true));
        var controller = cluster.Client.GetGrain<IControllerGrain>(RunId);

        foreach (var report in reports)
        {
            var rollout = new RolloutRecord([1, 2], [-0.5f, -0.5f], "x", 0, 0, 0);
            await learner.SubmitGroup(new ScoredGroupRecord(report.Step, 0, report.PolicyVersion, [rollout, rollout], [0, 0], 0, 0));
            await learner.BeginStep(new StepPlan(report.Step, report.Beta, 1, report.PolicyVersion));
            await controller.ReportStep(report);
            await controller.ReportStep(report with { Loss = 42 });
        }

        await Task.Delay(500, TestContext.Current.CancellationToken); // room for any wrongly triggered update
        var learnerStatus = await learner.GetStatus();
        var history = await controller.GetStepReports(0);
        Assert.Equal([0L, 1, 2, 3], learnerStatus.PublishedVersions);
        Assert.Equal(3, learnerStatus.NextStep);
        Assert.Equal([0L, 1, 2], history.Select(r => r.Step));
        Assert.Equal([1L, 2, 3], history.Select(r => r.Weights!.Version));
        Assert.Equal(reports.Select(r => r.Loss), history.Select(r => r.Loss));
        Assert.Equal(3, (await controller.GetStatus()).PolicyVersion);
    }
}
