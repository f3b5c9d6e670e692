using System.Diagnostics;
using System.Text.RegularExpressions;
using Grid.Telemetry.Tests.Support;

namespace Grid.Telemetry.Tests;

/// <summary>
/// What Prometheus, Grafana and a terminal see of a real run on two `grid silo` processes (<see cref="LiveGridRun"/>).
/// </summary>
public sealed partial class LiveClusterMetricsTests(LiveGridRun live) : IClassFixture<LiveGridRun>
{
    private const string Run = LiveGridRun.RunId;

    /// <summary>
    /// The Grid metrics each recording method of <see cref="GridMetrics"/> creates. A metric counts as "recorded by the
    /// grains" once src/ outside Grid.Telemetry calls one of its methods; until then a live run cannot export it.
    /// </summary>
    private static readonly Dictionary<string, string[]> RecordedBy = new()
    {
        ["grid_rollouts_total"] = ["RolloutFinished", "GroupStarted"],
        ["grid_rollout_tokens_total"] = ["RolloutFinished", "GroupStarted"],
        ["grid_rollout_retries_total"] = ["RolloutRetried", "RolloutFinished", "GroupStarted"],
        ["grid_groups_in_flight"] = ["GroupStarted", "GroupFinished"],
        ["grid_engine_batch_size"] = ["EngineBatch"],
        ["grid_engine_queue_depth"] = ["EngineQueueDepth"],
        ["grid_rollout_engine_busy_seconds_total"] = ["EngineBusy"],
        ["grid_weight_reloads_total"] = ["WeightsReloaded"],
        ["grid_engine_policy_version"] = ["WeightsReloaded"],
    };

    [Fact]
    public async Task Prometheus_shows_the_controllers_beta_for_the_last_completed_step_and_counts_that_grew()
    {
        var log = TestContext.Current.TestOutputHelper!;
        log.WriteLine($"2 silo processes ready in {live.Seconds.Cluster:F1} s; submit + {LiveGridRun.Steps} steps in {live.Seconds.Run:F1} s");
        var status = await live.Controller.GetStatus();
        var reports = await live.Controller.GetStepReports(0);
        var lastStep = reports[^1];
        Assert.Equal(LiveGridRun.Steps, status.StepsCompleted);
        Assert.Equal(status.StepsCompleted - 1, lastStep.Step);
        double controllerBeta = status.Beta!.Value; // the last step started, which is the last completed
        Assert.Equal(controllerBeta, lastStep.Beta);

        var prometheus = live.Prometheus;
        double beta = await prometheus.WaitForValueAsync($"grid_kl_beta{{run=\"{Run}\"}}",
            v => v is { } b && Math.Abs(b - controllerBeta) <= 1e-12 * Math.Max(1, Math.Abs(controllerBeta)));
        Assert.Equal(controllerBeta, beta, 12);
        Assert.Equal(lastStep.Step, await prometheus.WaitForValueAsync($"grid_step{{run=\"{Run}\"}}", v => v == lastStep.Step));
        Assert.Equal(lastStep.Accuracy, await prometheus.WaitForValueAsync($"grid_accuracy{{run=\"{Run}\"}}", v => v is not null), 12);

        // Raw samples since the run started: the counters grew while Prometheus watched and ended at the run's totals.
        long tokens = reports.Sum(r => r.TokensGenerated);
        await AssertGrewToAsync($"grid_steps_total{{run=\"{Run}\"}}", LiveGridRun.Steps);
        await AssertGrewToAsync($"grid_tokens_generated_total{{run=\"{Run}\"}}", tokens);

        // Rollout counts by outcome come from the prompt groups (on either silo); asserted once the grains record them.
        var rollouts = await prometheus.QueryAsync($"sum(grid_rollouts_total{{run=\"{Run}\"}})");
        log.WriteLine($"grid_rollouts_total for the run: {(rollouts.Result.Count == 0 ? "not exported" : rollouts.Result[0].Value)}");
        if (CalledOutsideTelemetry("RolloutFinished"))
        {
            var samples = await prometheus.WaitForAsync($"sum(grid_rollouts_total{{run=\"{Run}\"}})[10m:1s]",
                r => r.Count == 1 && r[0].Values.Max() > 0);
            Assert.True(samples[0].Values[^1] > samples[0].Values[0], $"rollouts did not grow: {string.Join(" ", samples[0].Values)}");
        }

        // The learner: on the silo that declared a GPU (this machine has no CUDA, so it trains on the CPU).
        var placement = await prometheus.WaitForAsync($"grid_learner_placement{{run=\"{Run}\"}}", r => r.Count == 1);
        Assert.Equal("cpu", placement[0].Labels["device"]);
        Assert.Equal(live.MetricsEndpoints[0].Authority, placement[0].Labels["instance"]);
        Assert.Equal(2, await prometheus.WaitForValueAsync("count(grid_silo_gpu_devices)", v => v == 2));
        Assert.Equal(1, await prometheus.WaitForValueAsync("count(grid_silo_gpu_devices > 0)", v => v == 1));
    }

    [Fact]
    public async Task Every_metric_the_dashboard_and_the_alerts_use_is_on_the_live_silos_and_every_panel_has_data()
    {
        var log = TestContext.Current.TestOutputHelper!;
        var exported = new HashSet<string>();
        foreach (var endpoint in live.MetricsEndpoints)
        {
            exported.UnionWith((await Scrape.GetAsync(endpoint)).Names);
        }

        var panels = InfraQueries.Dashboard(variables: false);
        var alerts = InfraQueries.Alerts();
        var queried = panels.Concat(alerts).SelectMany(PromQl.MetricNames).ToHashSet();
        var notYetRecorded = queried.Where(name => !exported.Contains(name) && RecordedBy.TryGetValue(Family(name), out var methods)
            && !methods.Any(CalledOutsideTelemetry)).ToHashSet();
        var missing = queried.Where(name => !exported.Contains(name) && !notYetRecorded.Contains(name)).Order().ToArray();
        log.WriteLine($"{queried.Count} names queried; live silos export {exported.Count} names");
        log.WriteLine($"not recorded by any grain on this branch yet (no caller in src/): {string.Join(", ", notYetRecorded.Order())}");
        Assert.True(missing.Length == 0, $"Queried by the dashboard or alerts but not on a live run's /metrics: {string.Join(", ", missing)}");

        // Each panel query, as Grafana sends it, evaluates in Prometheus and (when its metrics are recorded) has data.
        var empty = new List<string>();
        foreach (string panel in panels)
        {
            string query = panel.Replace("$run", Regex.Escape(Run), StringComparison.Ordinal)
                .Replace("$instance", ".*", StringComparison.Ordinal);
            var (result, error) = await live.Prometheus.QueryAsync(query);
            Assert.True(error is null, $"Panel query {query} fails: {error}");
            // rate() and increase() need two scrapes of a series: a counter that first appeared in the latest scrape
            // (CI once queried right after it) has no data for a second more. Data within 10 s counts.
            var waited = Stopwatch.StartNew();
            while (result.Count == 0 && waited.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(250, TestContext.Current.CancellationToken);
                (result, _) = await live.Prometheus.QueryAsync(query);
            }

            if (result.Count == 0 && !PromQl.MetricNames(query).Any(notYetRecorded.Contains))
            {
                empty.Add(query);
            }
        }

        Assert.True(empty.Count == 0, $"Panels without data after a live run:\n{string.Join("\n", empty)}");
        foreach (string alert in alerts)
        {
            var (_, error) = await live.Prometheus.QueryAsync(alert);
            Assert.True(error is null, $"Alert expression {alert} fails: {error}");
        }
    }

    [Fact]
    public async Task Grid_status_prints_steps_beta_reward_accuracy_silos_learner_placement_and_retries()
    {
        var status = live.Start("status", ["status", Run, .. live.Common, "--gateway", live.Gateway.ToString()]);
        int exit = await status.WaitForExitAsync(TimeSpan.FromSeconds(90), TestContext.Current.CancellationToken);
        TestContext.Current.TestOutputHelper!.WriteLine(status.Output);

        Assert.True(exit == 0, status.Output);
        var reports = await live.Controller.GetStepReports(0);
        string output = status.Output;
        foreach (string column in new[] { "step", "beta", "reward", "accuracy", "retries", "learner", "silo" })
        {
            Assert.Contains(column, output);
        }

        Assert.Contains($"{LiveGridRun.Steps}/{LiveGridRun.Steps}", output);
        Assert.Contains("2 active silo(s)", output);
        Assert.Matches(@"S127\.0\.0\.1:\d+:\d+ \(cpu\)", output);
        // The last step's row: its step, policy version and beta as the controller has them.
        var last = reports[^1];
        string row = output.Split('\n').Single(line => Regex.IsMatch(line, $@"^\s*│\s*{last.Step}\s*│\s*{last.PolicyVersion}\s*│"));
        Assert.Contains($"│ {last.Beta.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)} ", row);
    }

    /// <summary>Samples of <paramref name="query"/> over the last 10 minutes: non-decreasing, growing, ending at the total.</summary>
    private async Task AssertGrewToAsync(string query, double total)
    {
        var series = await live.Prometheus.WaitForAsync($"{query}[10m]", r => r.Count == 1 && r[0].Values[^1] == total);
        var values = series[0].Values;
        TestContext.Current.TestOutputHelper!.WriteLine($"{query}: {string.Join(" ", values.Distinct())}");
        Assert.True(values.Zip(values.Skip(1)).All(p => p.Second >= p.First), $"{query} decreased: {string.Join(" ", values)}");
        Assert.True(values[0] < total, $"{query} was already {total} at its first scrape: Prometheus never saw it grow.");
    }

    /// <summary>The metric family of a name as the exporter writes it (a histogram's _bucket, _sum, _count).</summary>
    private static string Family(string name) => HistogramSuffix().Replace(name, "");

    private static bool CalledOutsideTelemetry(string method) => SourceCallers.Value.Contains(method);

    /// <summary>Methods of GridMetrics called somewhere in src/ outside Grid.Telemetry (the grains, the engine).</summary>
    private static readonly Lazy<HashSet<string>> SourceCallers = new(() =>
    {
        string src = Path.Combine(RepoPaths.Root, "src");
        string telemetry = Path.Combine(src, "Grid.Telemetry") + Path.DirectorySeparatorChar;
        var methods = RecordedBy.Values.SelectMany(m => m).ToHashSet();
        var called = new HashSet<string>();
        foreach (string file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
                     .Where(f => !f.StartsWith(telemetry, StringComparison.Ordinal) && !f.Contains("/obj/", StringComparison.Ordinal)))
        {
            string text = File.ReadAllText(file);
            called.UnionWith(methods.Where(m => text.Contains($".{m}(", StringComparison.Ordinal)));
        }

        return called;
    });

    [GeneratedRegex("_(bucket|sum|count)$")]
    private static partial Regex HistogramSuffix();
}
