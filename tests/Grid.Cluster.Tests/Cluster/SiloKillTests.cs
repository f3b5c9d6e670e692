using Grid.Cluster.Tests.Infrastructure;
using Grid.Contracts.Learning;
using Grid.Contracts.Rollouts;
using Grid.Contracts.Runs;
using Grid.Hosting;
using Grid.Hosting.Configuration;
using Grid.Hosting.Placement;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Grid.Cluster.Tests.Cluster;

/// <summary>
/// A real crash: three `grid silo` processes on Azurite, a run submitted with `grid submit`, and `kill -9` of a
/// rollout silo while one of its groups is generating. The survivors detect the death by probes (GridMembership), the
/// controller's watchdog brings the lost groups back, and the run completes with every group counted once.
/// </summary>
public sealed class SiloKillTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IAsyncDisposable
{
    private const int Steps = 4;
    private const int Prompts = 6;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);
    private readonly GridProcesses _processes = new("grid-cluster-kill-");

    /// <param name="maxStaleness">
    /// rollouts.max_staleness: 0, the synchronous run, or 1 (asynchronous GRPO-D), where the killed process also held
    /// groups of the next step, started ahead with the previous version; no trained group may lag more than that.
    /// </param>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task After_kill_9_of_a_rollout_silo_process_the_run_completes_and_counts_every_group_once(int maxStaleness)
    {
        string runId = $"cluster-kill-k{maxStaleness}";
        var cancellation = TestContext.Current.CancellationToken;
        var log = TestContext.Current.TestOutputHelper!;
        string clusterId = "kill-" + Guid.NewGuid().ToString("N")[..8];
        var environment = new Dictionary<string, string?> { ["GRID_AZURE_STORAGE"] = azurite.ConnectionString };
        string[] common = ["--cluster", "azure", "--storage", "azure", "--cluster-id", clusterId];
        int[] siloPorts = [GridProcess.FreeLoopbackPort(), GridProcess.FreeLoopbackPort(), GridProcess.FreeLoopbackPort()];
        var silos = siloPorts.Select((port, i) => Start($"silo{i}", environment,
        [
            "silo", .. common, .. (i == 0 ? new[] { "--gpu", "1" } : []), "--advertised-address", "127.0.0.1",
            "--silo-port", port.ToString(), "--gateway-port", GridProcess.FreeLoopbackPort().ToString(), "--metrics-port", "0",
        ])).ToArray();
        foreach (var silo in silos)
        {
            await silo.WaitForOutputAsync("grid silo ready", Timeout, cancellation);
        }

        // Eight 96-token completions per group from the demo-sized model (4 layers of 128): an attempt takes most of a
        // second, long enough for the kill to land in the middle of one. The smoke model's 48 tokens took ~0.1 s, and
        // a kill aimed at a group seen generating could land after it had scored. The 8 px patches without a stem (36
        // image positions) keep the attempt as long as when this was measured.
        var submit = Start("submit", environment, ["submit", "--preset", "smoke", "--set", $"steps={Steps}",
            "--set", $"prompts_per_step={Prompts}", "--set", "group_size=8", "--set", "max_new_tokens=96",
            "--set", "model.d_model=128", "--set", "model.layers=4", "--set", "model.heads=4",
            "--set", "model.patch_size=8", "--set", "model.stem_channels=0", "--set", $"rollouts.max_staleness={maxStaleness}",
            .. common, "--run-id", runId, "--output", Path.Combine(_processes.WorkFolder, "runs")]);
        Assert.True(await submit.WaitForExitAsync(Timeout, cancellation) == 0, submit.Output);

        using var client = await TestClients.ConnectAzureAsync(azurite.ConnectionString, clusterId, cancellation);
        var grains = client.Services.GetRequiredService<IClusterClient>();
        var run = RunTracker.Attach(grains, runId, Prompts);
        await run.WaitForStepsAsync(2, Timeout); // engines loaded, learner warm
        string learnerSilo = (await grains.GetGrain<ILearnerGrain>(LearnerKey.Create(runId)).GetStatus()).Silo;
        Assert.Equal(siloPorts[0], PortOf(learnerSilo)); // the GPU silo
        string controllerSilo = await SiloOfAsync(grains, run.Controller);

        var (step, groups) = await run.WaitForGeneratingAsync(silo => silo != learnerSilo, Timeout, lookAhead: maxStaleness);
        var seenAt = run.Elapsed;
        string victimAddress = RunTracker.Generating(groups, silo => silo != learnerSilo)[0].Silo;
        var victim = silos[Array.IndexOf(siloPorts, PortOf(victimAddress))];
        var lost = groups.Where(g => g.Silo == victimAddress && g.Phase != GroupPhase.Delivered).Select(g => g.Key).ToHashSet();
        var killedAt = run.Elapsed;
        await victim.DisposeAsync(); // Process.Kill: SIGKILL, no goodbye to the cluster
        await run.WaitForStepsAsync(step + 1, Timeout);
        var recovery = run.Elapsed - killedAt;
        var status = await run.WaitForEndAsync(Timeout);

        var after = await run.GroupsAsync(step).WaitAsync(cancellation);
        log.WriteLine($"kill -9 of {victim.Name} ({victimAddress}, controller {(controllerSilo == victimAddress ? "was" : "was not")} "
            + $"on it) mid-step {step} with {lost.Count} of its groups not yet delivered, "
            + $"{(killedAt - seenAt).TotalMilliseconds:F0} ms after seeing one generating; "
            + $"step {step} completed {recovery.TotalSeconds:F2} s after the kill; attempts of step {step}'s groups: "
            + string.Join(", ", after.Select(g => $"{g.Key}{(lost.Contains(g.Key) ? " (lost)" : "")} x{g.Attempts}")));
        await run.AssertEveryStepCompletedOnceAsync(status, Steps, SiloLogs);
        Assert.All(after, g => Assert.Equal(GroupPhase.Delivered, g.Phase));
        Assert.All(after.Where(g => lost.Contains(g.Key)), g =>
        {
            Assert.NotEqual(victimAddress, g.Silo);
            Assert.InRange(g.Attempts, 1, 2); // 1: it delivered between the snapshot and the kill
        });
        // At least one attempt died with the process; it counted once, and the group's next attempt succeeded.
        Assert.Contains(after, g => lost.Contains(g.Key) && g.Attempts == 2);
        // Every step trained its groups within the bound: with k = 1 one version behind (started while the learner updated
        // the step before), kill or not.
        var reports = await run.Controller.GetStepReports(0).WaitAsync(cancellation);
        log.WriteLine("staleness by step: " + string.Join(" ", reports.Select(r => $"[{string.Join(",", r.StalenessGroups)}]")));
        Assert.All(reports, r => Assert.InRange(r.StalenessGroups.Length, 1, maxStaleness + 1));
        Assert.All(reports, r => Assert.Equal(0, r.DroppedStaleGroups));
        if (maxStaleness == 1)
        {
            Assert.All(reports.Skip(1), r => Assert.Equal([0, Prompts], r.StalenessGroups));
        }

        // The survivors brought the lost groups back from their state in Azure Table.
        Assert.Contains("resumes on", string.Join("\n", silos.Where(s => s != victim).Select(s => s.Output)));
    }

    public ValueTask DisposeAsync() => _processes.DisposeAsync();

    private static async Task<string> SiloOfAsync(IClusterClient grains, IAddressable grain) =>
        (await grains.GetGrain<IManagementGrain>(0).GetActivationAddress(grain))?.ToString() ?? "none";

    /// <summary>The silo port in an Orleans silo address "S127.0.0.1:PORT:GENERATION".</summary>
    private static int PortOf(string siloAddress) => int.Parse(siloAddress.Split(':')[1]);

    private GridProcess Start(string name, Dictionary<string, string?> environment, string[] arguments) =>
        _processes.Start(name, environment, arguments);

    private string SiloLogs() => _processes.Logs("silo");
}
