using System.Diagnostics;
using Grid.Contracts.Runs;
using Grid.Grains.Controller;
using Grid.Grains.Rollouts;
using Grid.Grains.Tests.Infrastructure;
using Grid.Training.Settings;

namespace Grid.Grains.Tests.Runs;

/// <summary>
/// The controller's silo dies and nobody calls the controller again: no client, no learner report in flight for it.
/// Its durable keep-alive reminder (kept, like the grain states, where every silo of the cluster finds it) brings it
/// back on a survivor, which drives the run to its end. The run is watched through its history pages only, which
/// never touch the controller.
/// </summary>
public sealed class ControllerSiloDeathTests(ITestOutputHelper output)
{
    private const string RunId = "controller-silo-death";
    private const int Steps = 400;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    /// <remarks>
    /// Only the first silo runs when the run starts, so the controller (and, with <paramref name="withLearner"/>, the
    /// learner) is placed there; the others join before the kill. With the learner gone too, nothing but the reminder
    /// ever calls the controller again.
    /// </remarks>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task When_the_controllers_silo_dies_with_no_client_calling_the_run_goes_on_and_completes(bool withLearner)
    {
        var cancellation = TestContext.Current.CancellationToken;
        SiloRole[] roles = withLearner
            ? [SiloRole.CpuLearner, SiloRole.CpuLearner, SiloRole.Plain]
            : [SiloRole.Plain, SiloRole.CpuLearner, SiloRole.Plain];
        await using var cluster = await GridCluster.StartAsync(roles, initialSilos: 1, azureStorage: null,
            new RolloutEngineOptions { Policy = RolloutPolicy.FixedAnswer });
        var settings = TestRuns.Smoke($"steps={Steps}", "prompts_per_step=2", "group_size=2");
        var controller = cluster.Client.GetGrain<IControllerGrain>(RunId);
        await controller.Start(new RunSpec(settings, AllowCpuLearner: true)).WaitAsync(cancellation);
        await cluster.Placement.StartSiloAsync();
        await cluster.Placement.StartSiloAsync();
        await WaitForStepsAsync(cluster, 20, cancellation);

        var management = cluster.Client.GetGrain<IManagementGrain>(0);
        string victim = (await management.GetActivationAddress(controller, cancellation))!.ToString();
        string learner = (await management.GetActivationAddress(cluster.Client.GetGrain<Contracts.Learning.ILearnerGrain>(
            Hosting.Placement.LearnerKey.Create(RunId, true)), cancellation))?.ToString() ?? "none";
        long before = await WaitForStepsAsync(cluster, 0, cancellation);
        var killedAt = DateTimeOffset.UtcNow;
        await cluster.KillSiloAsync(victim);
        await WaitForStepsAsync(cluster, Steps, cancellation);

        var status = await controller.GetStatus();
        var reports = await controller.GetStepReports(0);
        // The run's stall: the longest wait for a step to be recorded, from the kill on.
        var after = reports.Select(r => r.CompletedAt).Where(t => t > killedAt).Prepend(killedAt).ToArray();
        var stall = after.Zip(after.Skip(1), (a, b) => b - a).Max();
        output.WriteLine($"killed the controller's silo {victim} (learner {(learner == victim ? "on it too" : "elsewhere")}) after "
            + $"step {before}; the longest wait for a step after the kill was {stall.TotalSeconds:F1} s; {Steps} steps recorded");
        Assert.Equal(withLearner, learner == victim);
        Assert.Equal(RunState.Completed, status.State);
        Assert.Equal(Enumerable.Range(0, Steps).Select(s => (long)s), reports.Select(r => r.Step));
        Assert.Equal(Enumerable.Range(1, Steps).Select(v => (long)v), reports.Select(r => r.Weights!.Version));
        Assert.NotEqual(victim, (await management.GetActivationAddress(controller, cancellation))?.ToString());
    }

    /// <summary>
    /// Reads the history pages (never the controller) until <paramref name="steps"/> steps are recorded; returns how
    /// many are.
    /// </summary>
    private static async Task<long> WaitForStepsAsync(GridCluster cluster, long steps, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            long recorded = 0;
            try
            {
                for (long page = 0; ; page++)
                {
                    var records = await cluster.Client.GetGrain<IRunHistoryGrain>(RunHistoryPage.Key(RunId, page)).Read(0)
                        .WaitAsync(TimeSpan.FromSeconds(5), cancellation);
                    recorded += records.Length;
                    if (records.Length < RunHistoryPage.Size)
                    {
                        break;
                    }
                }

                if (recorded >= steps)
                {
                    return recorded;
                }
            }
            catch (Exception e) when (e is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException
                                          or Orleans.Runtime.Messaging.ConnectionFailedException)
            {
                // A page on the dead silo before the cluster has declared it dead, or the client's gateway was that silo: ask again.
            }

            Assert.True(clock.Elapsed < Timeout, $"only {recorded} of {steps} steps were recorded within {Timeout}");
            await Task.Delay(50, cancellation);
        }
    }
}
