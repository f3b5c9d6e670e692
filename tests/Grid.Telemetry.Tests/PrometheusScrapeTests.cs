using Grid.Telemetry.Tests.Support;

namespace Grid.Telemetry.Tests;

public class PrometheusScrapeTests
{
    [Fact]
    public async Task A_real_prometheus_sees_the_last_steps_beta_and_rollout_counts_that_grow()
    {
        await using var server = await GridMetricsServer.StartAsync(
            new GridTelemetryOptions { Port = 0, IncludeOrleans = false }, TestContext.Current.CancellationToken);
        var metrics = server.Metrics!;
        const string run = "scraped-run";
        metrics.RecordStep(run, Steps.Report(step: 0, beta: 0.04));
        metrics.RecordStep(run, Steps.Report(step: 1, beta: 0.0175));
        metrics.RolloutFinished(run, RolloutOutcome.Ok, tokens: 10);

        using var prometheus = PrometheusServer.Start(server.Endpoint);
        try
        {
            double beta = await prometheus.WaitForValueAsync($"grid_kl_beta{{run=\"{run}\"}}", v => v is not null);
            Assert.Equal(0.0175, beta);

            // Both steps' groups by staleness (Steps.Report: 6 at lag 0 and 2 at lag 1) and the groups refused as stale.
            // Prometheus stores le="0" as "0.0" (OpenMetrics scrape); the regex takes both.
            Assert.Equal(12, await prometheus.WaitForValueAsync($"grid_group_staleness_bucket{{run=\"{run}\",le=~\"0(\\\\.0)?\"}}", v => v is not null));
            Assert.Equal(16, await prometheus.WaitForValueAsync($"grid_group_staleness_count{{run=\"{run}\"}}", v => v is not null));
            Assert.Equal(2, await prometheus.WaitForValueAsync($"grid_groups_dropped_stale_total{{run=\"{run}\"}}", v => v is not null));
            Assert.Equal(0.35, await prometheus.WaitForValueAsync($"grid_learner_idle_fraction{{run=\"{run}\"}}", v => v is not null));

            string rollouts = $"sum(grid_rollouts_total{{run=\"{run}\"}})";
            double before = await prometheus.WaitForValueAsync(rollouts, v => v is not null);
            metrics.RolloutFinished(run, RolloutOutcome.Ok, tokens: 11);
            metrics.RolloutFinished(run, RolloutOutcome.Retried, tokens: 12);
            double after = await prometheus.WaitForValueAsync(rollouts, v => v > before);

            Assert.Equal(before + 2, after);
        }
        catch (TimeoutException) when (prometheus.HasExited)
        {
            Assert.Fail($"prometheus exited early:\n{prometheus.Log}");
        }
    }

    [Fact]
    public async Task A_real_prometheus_turns_the_engines_busy_seconds_into_the_dashboards_rollout_idle_share()
    {
        await using var server = await GridMetricsServer.StartAsync(
            new GridTelemetryOptions { Port = 0, IncludeOrleans = false }, TestContext.Current.CancellationToken);
        var metrics = server.Metrics!;
        metrics.EngineBusy(0); // what a new engine records
        string idleShare = InfraQueries.Dashboard(variables: false)
            .Single(q => q.Contains("grid_rollout_engine_busy_seconds_total", StringComparison.Ordinal))
            .Replace("$instance", ".*", StringComparison.Ordinal);

        using var prometheus = PrometheusServer.Start(server.Endpoint);
        try
        {
            Assert.Equal(1, await prometheus.WaitForValueAsync(idleShare, v => v is not null)); // never busy: idle

            metrics.EngineBusy(0.5);
            double idle = await prometheus.WaitForValueAsync(idleShare, v => v < 1);

            Assert.InRange(idle, 0, 1);
        }
        catch (TimeoutException) when (prometheus.HasExited)
        {
            Assert.Fail($"prometheus exited early:\n{prometheus.Log}");
        }
    }
}
