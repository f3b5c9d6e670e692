using Azure.Data.Tables;
using Grid.Contracts.Runs;
using Grid.Grains.Controller;
using Grid.Grains.Rollouts;
using Grid.Grains.Tests.Infrastructure;
using Grid.Training.Settings;

namespace Grid.Grains.Tests.Runs;

/// <summary>
/// Thousands of steps on the cluster's real grain storage (Azure Table on Azurite), with the fixed-answer policy so the
/// steps cost only the grid's own work. Every grain's entity must stay the same size however long the run (an Azure
/// Table entity holds at most 1 MB; the controller's used to grow by every step's report and passed it at step
/// ~1,850), old steps' prompt group rows must go, and the table may grow only by the step history. Run synchronously
/// (k = 0) and with rollouts.max_staleness 2, where the groups of the next two steps are stored ahead of their steps.
/// </summary>
public sealed class LongRunStorageTests(AzuriteFixture azurite, ITestOutputHelper output) : IClassFixture<AzuriteFixture>
{
    private const int Steps = 4000;
    private const int Early = 250;
    private const int Prompts = 2;
    private const int KeptSteps = 2;

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public async Task A_run_of_thousands_of_steps_completes_with_every_entity_bounded_and_old_group_rows_deleted(int maxStaleness)
    {
        var cancellation = TestContext.Current.CancellationToken;
        string runId = "long-" + Guid.NewGuid().ToString("N")[..8];
        await using var cluster = await GridCluster.StartAsync([SiloRole.CpuLearner], initialSilos: null,
            azurite.ConnectionString, new RolloutEngineOptions { Policy = RolloutPolicy.FixedAnswer });
        var settings = TestRuns.Smoke($"steps={Steps}", $"prompts_per_step={Prompts}", "group_size=2",
            $"rollouts.kept_group_steps={KeptSteps}", $"checkpoint_every={Steps}", $"rollouts.max_staleness={maxStaleness}");
        await cluster.Client.GetGrain<IControllerGrain>(runId)
            .Start(new RunSpec(settings, AllowCpuLearner: true)).WaitAsync(cancellation);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var reached = await cluster.WaitForAsync(runId, s => s.StepsCompleted >= Early, TimeSpan.FromMinutes(5));
        var early = await SnapshotAsync(runId, reached.StepsCompleted, cancellation);
        double earlySeconds = clock.Elapsed.TotalSeconds;
        var status = await cluster.WaitForAsync(runId, s => s.State != RunState.Running, TimeSpan.FromMinutes(20));
        var late = await SnapshotAsync(runId, status.StepsCompleted, cancellation);
        var reports = await cluster.Client.GetGrain<IControllerGrain>(runId).GetStepReports(Steps - 10);

        output.WriteLine($"k = {maxStaleness}: {Steps} steps in {clock.Elapsed.TotalSeconds:F0} s (first {Early}: {earlySeconds:F0} s)");
        output.WriteLine($"after step {early.Step}: {early}");
        output.WriteLine($"after step {late.Step}: {late}");
        double perStep = (double)(late.TotalBytes - early.TotalBytes) / (late.Step - early.Step);
        output.WriteLine($"stored bytes grew by {perStep:F0} B per step between them (the step history)");
        Assert.Equal(RunState.Completed, status.State);
        Assert.Equal(Enumerable.Range(Steps - 10, 10).Select(s => (long)s), reports.Select(r => r.Step));
        // The controller's row does not grow with the run.
        Assert.InRange(late.ControllerBytes, early.ControllerBytes - 64, early.ControllerBytes + 64);
        // Prompt group rows: the newest kept steps', the running step's, the k steps' started ahead, and mid-run one
        // step's more, whose rows go just after the next step has started.
        Assert.InRange(early.GroupRows, 1, (KeptSteps + 2 + maxStaleness) * Prompts);
        Assert.InRange(late.GroupRows, 1, (KeptSteps + 1) * Prompts);
        // Every step trained groups sampled within the bound.
        Assert.All(reports, r => Assert.True(r.StalenessGroups.Length <= maxStaleness + 1, $"step {r.Step}: [{string.Join(", ", r.StalenessGroups)}]"));
        Assert.All(reports, r => Assert.Equal(0, r.DroppedStaleGroups));
        if (maxStaleness > 0)
        {
            // ... and the overlap happened: groups started ahead were trained a version or more behind.
            Assert.Contains(reports, r => r.StalenessGroups.Skip(1).Sum() > 0);
        }
        // The history: one row per page of steps, none near the table's limit.
        Assert.Equal((Steps + RunHistoryPage.Size - 1) / RunHistoryPage.Size, late.HistoryRows);
        Assert.InRange(late.LargestBytes, 1, 128 * 1024);
        Assert.InRange(perStep, 1, 2048);
    }

    /// <summary>The run's rows in the grain state table: how many of each kind and how big (property payload bytes).</summary>
    private async Task<Snapshot> SnapshotAsync(string runId, long step, CancellationToken cancellation)
    {
        var entities = await new TableServiceClient(azurite.ConnectionString).GetTableClient("OrleansGrainState")
            .QueryAsync<TableEntity>(cancellationToken: cancellation).ToListAsync(cancellation);
        var rows = entities.Where(e => e.PartitionKey.Contains(runId, StringComparison.Ordinal)).ToArray();
        long Size(TableEntity e) => e.Sum(p => p.Value switch
        {
            byte[] bytes => bytes.Length,
            string text => text.Length * 2,
            BinaryData data => data.ToArray().Length,
            _ => 8,
        });
        return new Snapshot(step,
            rows.Where(r => r.PartitionKey.Contains("controller", StringComparison.Ordinal)).Sum(Size),
            rows.Count(r => r.PartitionKey.Contains("promptgroup", StringComparison.Ordinal)),
            rows.Count(r => r.PartitionKey.Contains("runhistory", StringComparison.Ordinal)),
            rows.Max(Size), rows.Sum(Size), rows.Length);
    }

    private sealed record Snapshot(long Step, long ControllerBytes, int GroupRows, int HistoryRows, long LargestBytes,
        long TotalBytes, int Rows)
    {
        public override string ToString() =>
            $"{Rows} rows, {TotalBytes} B; controller {ControllerBytes} B; {GroupRows} prompt group rows; "
            + $"{HistoryRows} history rows; largest {LargestBytes} B";
    }
}
