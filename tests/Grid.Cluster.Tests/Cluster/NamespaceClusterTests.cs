using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Azure.Data.Tables;
using Grid.Cluster.Tests.Infrastructure;
using Grid.Contracts.Learning;
using Grid.Contracts.Runs;
using Grid.Hosting.Placement;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Grid.Cluster.Tests.Cluster;

/// <summary>
/// Nodes with their own addresses: every `grid silo` runs in a network namespace of its own (<see cref="NodeNetwork"/>)
/// and advertises that node's address, Azurite runs on a node of its own, and `grid submit` and the test's client run
/// on the host, which has an address on the bridge. A partition is a node's link going down, not a process kill.
/// Membership uses the silos' defaults (GridMembership's fast failure detection: 1 s probes, 2 missed), so a
/// partitioned node is declared dead in seconds. Recovery times are printed in the test output.
/// </summary>
public sealed partial class NamespaceClusterTests(ITestOutputHelper output) : IAsyncDisposable
{
    private const int SiloPort = 11111;
    private const int GatewayPort = 30000;
    private const int MetricsPort = 9464;

    /// <summary>What Orleans logs when a silo finds itself declared dead in the membership table, before it stops the process.</summary>
    private const string ToldDead = "I have been told I am dead, so this silo will stop!";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180);
    private readonly GridProcesses _processes = new("grid-netns-");
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };

    /// <summary>
    /// Four nodes (one learner node with --gpu 1, three rollout nodes) and Azurite on a fifth: a run submitted from the
    /// host completes, every step once with all its groups, and every rollout node generated rollouts of it.
    /// </summary>
    [Fact]
    public async Task A_run_submitted_from_the_host_to_four_nodes_completes_with_groups_spread_over_the_rollout_nodes()
    {
        var cluster = await StartClusterAsync(gpuNodes: 1, rolloutNodes: 3);
        const string run = "netns-four";
        const int steps = 4;
        const int prompts = 8; // 32 groups on 4 silos by random placement: a rollout node misses all with p = 0.75^32
        var submit = Submit(cluster, run, steps, prompts, wait: true);
        Assert.True(await submit.WaitForExitAsync(Timeout, Cancellation) == 0, submit.Output + _processes.Logs("silo"));

        var metrics = ReadMetrics(run);
        AssertEveryStepOnce(metrics, steps, prompts);
        Assert.Contains($"Learner of run {run} ready on S{cluster.Gpu[0].Node.Address}:", cluster.Gpu[0].Process.Output);
        var rollouts = await RolloutsByNodeAsync(cluster, run);
        Log($"4 nodes: {steps} steps of {prompts} groups in {submit.Name}'s {Seconds(metrics)}; rollouts by node: "
            + string.Join(", ", rollouts.Select(r => $"{r.Key} {r.Value}")));
        Assert.All(cluster.Rollout, silo => Assert.True(rollouts[silo.Node.Name] > 0,
            $"rollout node {silo.Node} generated no rollout of {run}: {string.Join(", ", rollouts)}"));
    }

    /// <summary>
    /// Partitions, one cluster, one run: a rollout node's link goes down mid-step (the run goes on on the survivors with
    /// every group counted once; when the link is back the old silo learns it was declared dead and leaves, and a new
    /// silo on that node rejoins and gets work), a node joins mid-run and gets groups of the next steps, and the
    /// learner's node is cut off (the learner is set up again on the other GPU node from the newest checkpoint). Run
    /// synchronously and with rollouts.max_staleness 1, where groups of the next step generate on the cut node too and
    /// no trained group may lag beyond the bound.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task Partitions_of_a_rollout_node_and_of_the_learners_node_lose_nothing_and_a_joining_node_gets_work(int maxStaleness)
    {
        var cluster = await StartClusterAsync(gpuNodes: 2, rolloutNodes: 3);
        string run = $"netns-partition-k{maxStaleness}";
        const int steps = 80;
        const int prompts = 6;
        var submit = Submit(cluster, run, steps, prompts, wait: true, $"rollouts.max_staleness={maxStaleness}");
        using var host = await TestClients.ConnectAzureAsync(cluster.Storage, cluster.Id, Cancellation);
        var grains = host.Services.GetRequiredService<IClusterClient>();
        var tracker = RunTracker.Attach(grains, run, prompts);
        await WaitForStartAsync(tracker); // submit trains the SFT warm start before it starts the run
        await tracker.WaitForStepsAsync(2, Timeout);
        string learnerSilo = (await grains.GetGrain<ILearnerGrain>(LearnerKey.Create(run)).GetStatus()).Silo;
        var learner = cluster.Gpu.Single(s => learnerSilo.StartsWith($"S{s.Node.Address}:", StringComparison.Ordinal));

        // 1. A rollout node's link goes down while one of its groups generates.
        var (step, groups) = await tracker.WaitForGeneratingAsync(silo => cluster.Rollout.Any(r => OnNode(silo, r)), Timeout,
            lookAhead: maxStaleness);
        var victim = cluster.Rollout.First(r => RunTracker.Generating(groups, silo => OnNode(silo, r)).Length > 0);
        var cutAt = tracker.Elapsed;
        await cluster.Network.PartitionAsync(victim.Node);
        var dead = WaitForDeadAsync(cluster, victim.Node, tracker);
        await tracker.WaitForStepsAsync(step + 1, Timeout);
        var rolloutRecovery = tracker.Elapsed - cutAt;
        var (victimSilo, declaredDead) = await dead;
        Log($"partition of rollout node {victim.Node} mid-step {step}: the membership table said {victimSilo} Dead "
            + $"{(declaredDead - cutAt).TotalSeconds:F1} s after the link went down; step {step} completed "
            + $"{rolloutRecovery.TotalSeconds:F1} s after it");

        // When the link is back, the old silo finds itself declared dead and leaves.
        await cluster.Network.HealAsync(victim.Node);
        var healedAt = tracker.Elapsed;
        int exit = await victim.Process.WaitForExitAsync(TimeSpan.FromSeconds(60), Cancellation);
        Log($"link of {victim.Node} back: the old silo exited ({exit}) {(tracker.Elapsed - healedAt).TotalSeconds:F1} s later, "
            + $"saying: {victim.Process.Output.Split('\n').FirstOrDefault(l => l.Contains(ToldDead, StringComparison.Ordinal))?.Trim()}");
        Assert.Contains(ToldDead, victim.Process.Output);

        // A silo restarted on that node rejoins, and (2.) a node joins mid-run (started one after the other);
        // both get groups of the next steps.
        var joinNode = await cluster.Network.AddNodeAsync("joined");
        var newcomers = new List<(Silo Silo, TimeSpan StartedAt, long StepsBefore)>();
        foreach (var (node, label) in new[] { (victim.Node, "restarted"), (joinNode, "joined") })
        {
            var startedAt = tracker.Elapsed;
            long stepsBefore = (await tracker.WaitForStepsAsync(0, Timeout)).StepsCompleted;
            newcomers.Add((await StartSiloAsync(cluster, node, gpu: false, label), startedAt, stepsBefore));
        }

        foreach (var (silo, startedAt, stepsBefore) in newcomers)
        {
            await WaitForRolloutsAsync(silo, run);
            Log($"{silo.Process.Name} (started after step {stepsBefore}) generated rollouts of {run} "
                + $"{(tracker.Elapsed - startedAt).TotalSeconds:F1} s after it was started");
        }

        // 3. The learner's node is cut off: the learner is set up again on the other GPU node from the newest checkpoint.
        var other = cluster.Gpu.Single(s => s != learner);
        long before = (await tracker.WaitForStepsAsync(0, Timeout)).StepsCompleted;
        Assert.True(before < steps - 3, $"the run is nearly over (step {before} of {steps}) before the learner's partition: give it more steps");
        var learnerCutAt = tracker.Elapsed;
        await cluster.Network.PartitionAsync(learner.Node);
        var afterCut = await tracker.WaitForStepsAsync(before + 1, Timeout);
        var learnerRecovery = tracker.Elapsed - learnerCutAt;
        Log($"partition of the learner's node {learner.Node} with {before} steps completed: the first poll that saw a step "
            + $"completed came {learnerRecovery.TotalSeconds:F1} s after the link went down ({afterCut.StepsCompleted} steps completed by then)");

        // Its link comes back while the run goes on: the old learner's silo finds itself dead and leaves, and whatever it
        // still had in flight does not disturb the run (checked below: versions without a gap or a repeat).
        await cluster.Network.HealAsync(learner.Node);
        var learnerHealedAt = tracker.Elapsed;
        int learnerExit = await learner.Process.WaitForExitAsync(TimeSpan.FromSeconds(60), Cancellation);
        Assert.Contains(ToldDead, learner.Process.Output);
        Log($"link of {learner.Node} back: the old learner's silo exited ({learnerExit}) {(tracker.Elapsed - learnerHealedAt).TotalSeconds:F1} s later");

        Assert.True(await submit.WaitForExitAsync(Timeout, Cancellation) == 0, submit.Output + _processes.Logs("silo"));
        await tracker.AssertEveryStepCompletedOnceAsync(await tracker.WaitForEndAsync(Timeout), steps, () => _processes.Logs("silo"));
        AssertEveryStepOnce(ReadMetrics(run), steps, prompts);
        var reports = await grains.GetGrain<IControllerGrain>(run).GetStepReports(0).WaitAsync(Cancellation);
        Log($"k = {maxStaleness}, groups by lag over the run: [{string.Join(", ", Enumerable.Range(0, maxStaleness + 1)
            .Select(lag => reports.Sum(r => lag < r.StalenessGroups.Length ? r.StalenessGroups[lag] : 0)))}]; dropped as too stale: "
            + $"{reports.Sum(r => r.DroppedStaleGroups)}");
        Assert.All(reports, r => Assert.InRange(r.StalenessGroups.Length, 1, maxStaleness + 1));
        Assert.Contains($"Learner of run {run} on S{other.Node.Address}:", other.Process.Output);
        Assert.Matches($"Learner of run {run} on S{other.Node.Address.ToString().Replace(".", "\\.")}:\\S+ resumed at step [1-9]\\d* .*with optimizer state",
            other.Process.Output);
    }

    public async ValueTask DisposeAsync()
    {
        await _processes.DisposeAsync();
        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }

        _http.Dispose();
    }

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    /// <summary>Azurite and the silos on nodes of their own; with <paramref name="tls"/>, silos and clients use its certificates.</summary>
    private async Task<TestCluster> StartClusterAsync(int gpuNodes, int rolloutNodes, DevCertificates? tls = null)
    {
        var (network, azurite) = await NodeNetwork.StartWithStorageAsync(Log, _owned);
        var cluster = new TestCluster(network, azurite.ConnectionString, "ns-" + Guid.NewGuid().ToString("N")[..8])
        {
            SiloTls = tls?.Silo() ?? [],
            ClientTls = tls?.Client() ?? [],
        };
        // One after the other: on a 2-core box, silos starting together (JIT, TorchSharp) starve each other's membership
        // probes, and a joining silo that misses two 1 s probes is declared dead before it is ready.
        for (int i = 0; i < gpuNodes + rolloutNodes; i++)
        {
            bool gpu = i < gpuNodes;
            var node = await network.AddNodeAsync(gpu ? $"gpu{i}" : $"roll{i - gpuNodes}");
            var silo = await StartSiloAsync(cluster, node, gpu, "silo");
            (gpu ? cluster.Gpu : cluster.Rollout).Add(silo);
        }

        Log($"{gpuNodes + rolloutNodes} silos and Azurite on their own nodes up {_clock.Elapsed.TotalSeconds:F1} s after the start");
        return cluster;
    }

    private async Task<Silo> StartSiloAsync(TestCluster cluster, Node node, bool gpu, string label)
    {
        var silo = StartSilo(cluster, node, gpu, label, cluster.SiloTls);
        await silo.Process.WaitForOutputAsync("grid silo ready", Timeout, Cancellation);
        return silo;
    }

    /// <summary>Starts `grid silo` on <paramref name="node"/> with <paramref name="tls"/> flags, without waiting for it.</summary>
    private Silo StartSilo(TestCluster cluster, Node node, bool gpu, string label, string[] tls)
    {
        var process = _processes.StartUnder(node.Launcher, $"{label}-{node.Name}", cluster.Environment,
        [
            "silo", .. cluster.Common, .. tls, .. (gpu ? new[] { "--gpu", "1" } : []), "--advertised-address", node.Address.ToString(),
            "--silo-port", SiloPort.ToString(CultureInfo.InvariantCulture), "--gateway-port", GatewayPort.ToString(CultureInfo.InvariantCulture),
            "--metrics-port", MetricsPort.ToString(CultureInfo.InvariantCulture), "--metrics-address", node.Address.ToString(),
        ]);
        return new Silo(node, process, gpu);
    }

    private GridProcess Submit(TestCluster cluster, string run, int steps, int prompts, bool wait, params string[] settings) => _processes.Start("submit",
        cluster.Environment,
        [
            "submit", "--preset", "smoke", "--set", $"steps={steps}", "--set", $"prompts_per_step={prompts}",
            .. settings.SelectMany(setting => new[] { "--set", setting }), .. cluster.Common, .. cluster.ClientTls,
            "--run-id", run, .. (wait ? new[] { "--wait" } : []), "--output", Path.Combine(_processes.WorkFolder, run),
        ]);

    /// <summary>The run folder's metrics.jsonl, one element per line.</summary>
    private JsonElement[] ReadMetrics(string run)
    {
        string folder = Directory.GetDirectories(Path.Combine(_processes.WorkFolder, run)).Single();
        return File.ReadAllLines(Path.Combine(folder, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToArray();
    }

    /// <summary>metrics.jsonl has each step once, in order, each with every group of the step.</summary>
    private static void AssertEveryStepOnce(JsonElement[] metrics, int steps, int prompts)
    {
        Assert.Equal(Enumerable.Range(0, steps).Select(s => (long)s), metrics.Select(m => m.GetProperty("step").GetInt64()));
        Assert.All(metrics, m => Assert.Equal(prompts, m.GetProperty("groups").GetInt32()));
    }

    private static string Seconds(JsonElement[] metrics)
    {
        var seconds = metrics.Select(m => m.GetProperty("seconds_total").GetDouble()).ToArray();
        return $"steps of {seconds.Average():F2} s on average (median {seconds.Order().ElementAt(seconds.Length / 2):F2} s)";
    }

    /// <summary>Finished rollouts of <paramref name="run"/> each silo counted (its /metrics on its node's address).</summary>
    private async Task<Dictionary<string, long>> RolloutsByNodeAsync(TestCluster cluster, string run)
    {
        var counts = new Dictionary<string, long>();
        foreach (var silo in cluster.Gpu.Concat(cluster.Rollout))
        {
            counts[silo.Node.Name] = await RolloutsAsync(silo, run);
        }

        return counts;
    }

    private async Task<long> RolloutsAsync(Silo silo, string run)
    {
        string text = await _http.GetStringAsync(new Uri($"http://{silo.Node.Address}:{MetricsPort}/metrics"), Cancellation);
        return text.Split('\n')
            .Where(l => l.StartsWith("grid_rollouts_total{", StringComparison.Ordinal) && l.Contains($"\"{run}\"", StringComparison.Ordinal))
            .Sum(l => (long)double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }

    /// <summary>Waits until <paramref name="silo"/> has finished rollouts of <paramref name="run"/>.</summary>
    private async Task WaitForRolloutsAsync(Silo silo, string run)
    {
        var clock = Stopwatch.StartNew();
        while (await RolloutsAsync(silo, run) == 0)
        {
            Assert.True(clock.Elapsed < Timeout, $"{silo.Process.Name} got no work of {run} in {Timeout}:\n{_processes.Logs("silo")}");
            await Task.Delay(250, Cancellation);
        }
    }

    private static async Task WaitForStartAsync(RunTracker tracker)
    {
        var clock = Stopwatch.StartNew();
        while ((await tracker.Controller.GetStatus()).State == RunState.NotStarted)
        {
            Assert.True(clock.Elapsed < Timeout, $"run {tracker.RunId} did not start within {Timeout}");
            await Task.Delay(200, Cancellation);
        }
    }

    /// <summary>Waits until the membership table lists the silo of <paramref name="node"/> as Dead; returns its address.</summary>
    private async Task<(string Silo, TimeSpan At)> WaitForDeadAsync(TestCluster cluster, Node node, RunTracker tracker)
    {
        var table = new TableServiceClient(cluster.Storage).GetTableClient("OrleansSiloInstances");
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var rows = (await Task.Run(() => table.Query<TableEntity>(cancellationToken: Cancellation).ToList(), Cancellation))
                .Where(r => Text(r, "Address") == node.Address.ToString()).ToList();
            if (rows.FirstOrDefault(r => Text(r, "Status") == "Dead") is { } dead)
            {
                return ($"{Text(dead, "Address")}:{Text(dead, "Port")}:{Text(dead, "Generation")}", tracker.Elapsed);
            }

            Assert.True(clock.Elapsed < Timeout, $"the silo of {node} was not declared dead within {Timeout}");
            await Task.Delay(250, Cancellation);
        }
    }

    private static string? Text(TableEntity row, string column) =>
        row.TryGetValue(column, out object? value) ? Convert.ToString(value, CultureInfo.InvariantCulture) : null;

    private static bool OnNode(string siloAddress, Silo silo) => siloAddress.StartsWith($"S{silo.Node.Address}:", StringComparison.Ordinal);

    private void Log(string line)
    {
        try
        {
            output.WriteLine($"[{_clock.Elapsed.TotalSeconds,6:F1} s] {line}");
        }
        catch (InvalidOperationException)
        {
            // teardown after the test was reported: nowhere to write
        }
    }

    private sealed record Silo(Node Node, GridProcess Process, bool Gpu);

    private sealed class TestCluster(NodeNetwork network, string storage, string id)
    {
        public NodeNetwork Network { get; } = network;

        public string Storage { get; } = storage;

        public string Id { get; } = id;

        public string[] Common { get; } = ["--cluster", "azure", "--storage", "azure", "--cluster-id", id];

        public Dictionary<string, string?> Environment { get; } = new() { ["GRID_AZURE_STORAGE"] = storage };

        /// <summary>The TLS flags of this cluster's silos (none: plain TCP).</summary>
        public string[] SiloTls { get; init; } = [];

        /// <summary>The TLS flags of this cluster's clients (none: plain TCP).</summary>
        public string[] ClientTls { get; init; } = [];

        public List<Silo> Gpu { get; } = [];

        public List<Silo> Rollout { get; } = [];
    }
}
