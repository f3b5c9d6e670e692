using System.Diagnostics;
using System.Text.Json;
using Grid.Cluster.Tests.Infrastructure;
using Grid.Contracts.Runs;
using Grid.Hosting;
using Grid.Hosting.Configuration;
using Grid.Hosting.Weights;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Grid.Cluster.Tests.Cluster;

/// <summary>
/// `kill -9` of the `grid silo` process that hosts a run's controller, on Azurite (Azure Table membership, grain state
/// and reminders). Which silo hosts what is made certain by starting the silos in turn: the run is started while only
/// the first silo runs, so its controller lives there (and its learner too, when that silo offers a GPU); the other
/// silos join before the kill. The run is watched through the weight store only, never through the controller.
/// </summary>
public sealed class ControllerKillTests(AzuriteFixture azurite, ITestOutputHelper output) : IClassFixture<AzuriteFixture>, IAsyncDisposable
{
    private const int Steps = 120; // with rollouts.max_staleness 1 a quiet machine ran 40 smoke steps before the kill came
    private const int Prompts = 4;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(240);
    private readonly GridProcesses _processes = new("grid-controller-kill-");

    /// <summary>The controller and the learner die together; `grid submit --wait` talked through that silo too.</summary>
    /// <param name="maxStaleness">
    /// rollouts.max_staleness: with 1 the dead learner had taken groups of the next step, started ahead; the learner set
    /// up on the other GPU silo gets them again when that step starts, and no trained group lags beyond k.
    /// </param>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task Killing_the_silo_of_the_controller_and_learner_leaves_submit_wait_to_reconnect_and_write_a_complete_run_folder(
        int maxStaleness)
    {
        var cancellation = TestContext.Current.CancellationToken;
        var cluster = new Cluster(azurite.ConnectionString, "ctl-" + Guid.NewGuid().ToString("N")[..8]);
        string runId = "ctl-learner-" + Guid.NewGuid().ToString("N")[..6];
        var first = await StartSiloAsync(cluster, "silo0", gpu: true, cancellation);
        string runs = Path.Combine(_processes.WorkFolder, "runs");
        var submit = Start("submit", cluster, ["submit", .. RunArguments(runId, maxStaleness), "--wait", "--output", runs]);

        await WaitForVersionAsync(cluster, runId, 1, cancellation);
        await StartSiloAsync(cluster, "silo1", gpu: true, cancellation);
        await StartSiloAsync(cluster, "silo2", gpu: false, cancellation);
        await WaitForVersionAsync(cluster, runId, 3, cancellation);
        await Task.Delay(TimeSpan.FromSeconds(6), cancellation); // the client's gateway list has the new silos by now
        var (killedAt, recovery) = await KillAndTimeRecoveryAsync(cluster, runId, first, cancellation);

        Assert.True(await submit.WaitForExitAsync(Timeout, cancellation) == 0, submit.Output + _processes.Logs("silo"));
        string folder = Directory.GetDirectories(runs).Single();
        var steps = File.ReadAllLines(Path.Combine(folder, "metrics.jsonl"))
            .Select(line => JsonDocument.Parse(line).RootElement.GetProperty("step").GetInt64()).ToArray();
        output.WriteLine($"killed silo0 (controller, learner and submit's gateway) after version {killedAt}; the next version "
            + $"was published {recovery.TotalSeconds:F1} s after the kill; submit said: "
            + string.Join(" / ", submit.Output.Split('\n').Where(l => l.Contains("cluster", StringComparison.Ordinal))));
        Assert.Equal(Enumerable.Range(0, Steps).Select(s => (long)s), steps);
        Assert.True(File.Exists(Path.Combine(folder, "eval-final.json")), "the final evaluation is missing");
        Assert.True(File.Exists(Path.Combine(folder, "summary.json")), "the summary is missing");
        await AssertCompletedOnceAsync(cluster, runId, cancellation, maxStaleness);
    }

    /// <summary>The controller dies alone, and no client is attached: `grid submit` left after starting the run.</summary>
    /// <param name="maxStaleness">
    /// rollouts.max_staleness: with 1 the controller dies with the groups of the next step started ahead (its state
    /// records how far); the reactivated controller neither restarts them with other weights nor lets a group lag more.
    /// </param>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task Killing_the_controllers_silo_with_no_client_attached_leaves_a_run_that_completes_on_its_own(int maxStaleness)
    {
        var cancellation = TestContext.Current.CancellationToken;
        var cluster = new Cluster(azurite.ConnectionString, "ctl-" + Guid.NewGuid().ToString("N")[..8]);
        string runId = "ctl-alone-" + Guid.NewGuid().ToString("N")[..6];
        var first = await StartSiloAsync(cluster, "silo0", gpu: false, cancellation);
        var submit = Start("submit", cluster, ["submit", .. RunArguments(runId, maxStaleness), "--output",
            Path.Combine(_processes.WorkFolder, "runs")]);
        Assert.True(await submit.WaitForExitAsync(Timeout, cancellation) == 0, submit.Output);

        await StartSiloAsync(cluster, "silo1", gpu: true, cancellation); // the learner can only go here
        await StartSiloAsync(cluster, "silo2", gpu: false, cancellation);
        await WaitForVersionAsync(cluster, runId, 2, cancellation);
        var (killedAt, recovery) = await KillAndTimeRecoveryAsync(cluster, runId, first, cancellation);
        await WaitForVersionAsync(cluster, runId, Steps, cancellation);

        output.WriteLine($"killed silo0 (the controller only) after version {killedAt}; the next version was published "
            + $"{recovery.TotalSeconds:F1} s after the kill; the run reached version {Steps} with no client attached");
        await AssertCompletedOnceAsync(cluster, runId, cancellation, maxStaleness);
    }

    public ValueTask DisposeAsync() => _processes.DisposeAsync();

    private static string[] RunArguments(string runId, int maxStaleness = 0) =>
    [
        "--preset", "smoke", "--set", $"steps={Steps}", "--set", $"prompts_per_step={Prompts}", "--set", "sft.steps=20",
        "--set", $"rollouts.max_staleness={maxStaleness}", "--run-id", runId,
    ];

    private async Task<GridProcess> StartSiloAsync(Cluster cluster, string name, bool gpu, CancellationToken cancellation)
    {
        var silo = Start(name, cluster,
        [
            "silo", .. (gpu ? new[] { "--gpu", "1" } : []), "--advertised-address", "127.0.0.1",
            "--silo-port", GridProcess.FreeLoopbackPort().ToString(), "--gateway-port", GridProcess.FreeLoopbackPort().ToString(),
            "--metrics-port", "0",
        ]);
        await silo.WaitForOutputAsync("grid silo ready", Timeout, cancellation);
        return silo;
    }

    private GridProcess Start(string name, Cluster cluster, string[] arguments) => _processes.Start(name,
        new Dictionary<string, string?> { ["GRID_AZURE_STORAGE"] = cluster.Storage },
        [.. arguments, "--cluster", "azure", "--storage", "azure", "--cluster-id", cluster.Id]);

    /// <summary>Kills <paramref name="silo"/>; returns the version published before it and the wait for the next one.</summary>
    private static async Task<(long Before, TimeSpan Recovery)> KillAndTimeRecoveryAsync(Cluster cluster, string runId,
        GridProcess silo, CancellationToken cancellation)
    {
        long before = (await cluster.Weights.GetLatestAsync(runId, cancellation))!.Version;
        Assert.True(before < Steps, $"the run had ended before the kill (version {before}): give it more steps");
        var clock = Stopwatch.StartNew();
        await silo.DisposeAsync(); // SIGKILL: no goodbye to the cluster
        await WaitForVersionAsync(cluster, runId, before + 1, cancellation);
        return (before, clock.Elapsed);
    }

    /// <summary>Polls the weight store (not the controller) until <paramref name="version"/> is published.</summary>
    private static async Task WaitForVersionAsync(Cluster cluster, string runId, long version, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        while ((await cluster.Weights.GetLatestAsync(runId, cancellation))?.Version is not { } latest || latest < version)
        {
            Assert.True(clock.Elapsed < Timeout, $"run {runId} did not publish version {version} within {Timeout}");
            await Task.Delay(200, cancellation);
        }
    }

    /// <summary>Asks the cluster, once the run is over: completed, every step recorded once, versions without a gap.</summary>
    private async Task AssertCompletedOnceAsync(Cluster cluster, string runId, CancellationToken cancellation,
        int maxStaleness = 0)
    {
        using var host = await TestClients.ConnectAzureAsync(cluster.Storage, cluster.Id, cancellation);
        var controller = host.Services.GetRequiredService<IClusterClient>().GetGrain<IControllerGrain>(runId);
        var status = await controller.GetStatus();
        var clock = Stopwatch.StartNew();
        while (status.State == RunState.Running && clock.Elapsed < Timeout)
        {
            await Task.Delay(200, cancellation);
            status = await controller.GetStatus();
        }

        var reports = await controller.GetStepReports(0);
        Assert.True(status.State == RunState.Completed, $"{status}\n{_processes.Logs("silo")}");
        Assert.Equal(Enumerable.Range(0, Steps).Select(s => (long)s), reports.Select(r => r.Step));
        Assert.Equal(Enumerable.Range(1, Steps).Select(v => (long)v), reports.Select(r => r.Weights!.Version));
        Assert.Equal(Enumerable.Range(0, Steps).Select(v => (long)v), reports.Select(r => r.PolicyVersion));
        // No trained group beyond the bound, none dropped, every group counted once; with k = 1 every step after the
        // first one version behind, but one: a kill that lands while the controller starts the next step's groups ahead
        // leaves the rest of them to its successor, which starts them with the newest weights (lag 0, inside the bound).
        Assert.All(reports, r => Assert.InRange(r.StalenessGroups.Length, 1, maxStaleness + 1));
        Assert.All(reports, r => Assert.Equal(0, r.DroppedStaleGroups));
        Assert.All(reports, r => Assert.Equal(r.Groups, r.StalenessGroups.Sum()));
        if (maxStaleness == 1)
        {
            var interrupted = reports.Skip(1).Where(r => !r.StalenessGroups.SequenceEqual([0, r.Groups])).ToArray();
            output.WriteLine("steps not all one version behind: " + string.Join(" ",
                interrupted.Select(r => $"{r.Step} [{string.Join(",", r.StalenessGroups)}]")));
            Assert.InRange(interrupted.Length, 0, 1);
        }

        await host.StopAsync(cancellation);
    }

    private sealed record Cluster(string Storage, string Id)
    {
        public IWeightStore Weights { get; } = new AzureBlobWeightStore(Storage, "grid-weights");
    }
}
