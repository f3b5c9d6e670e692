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
}
