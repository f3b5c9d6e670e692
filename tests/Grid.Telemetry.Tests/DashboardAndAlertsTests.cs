using System.Diagnostics;
using Grid.Telemetry.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Grid.Telemetry.Tests;

public class DashboardAndAlertsTests
{
    [Fact]
    public async Task Every_metric_the_dashboard_and_the_alerts_query_is_on_a_live_silos_metrics()
    {
        var queried = InfraQueries.Dashboard().Concat(InfraQueries.Alerts()).SelectMany(PromQl.MetricNames).ToHashSet();
        Assert.Contains("grid_kl_beta", queried);
        Assert.Contains(queried, name => name.StartsWith("orleans_", StringComparison.Ordinal));

        // A real silo on a generic host, wired the way Grid's silos are, so Orleans' meter has data.
        var builder = Host.CreateApplicationBuilder();
        builder.UseOrleans(silo => silo.UseLocalhostClustering(siloPort: Tools.FreePort(), gatewayPort: Tools.FreePort()));
        builder.Services.AddGridTelemetry(new GridTelemetryOptions { Port = 0, ScrapeCacheMilliseconds = 0 });
        using var host = builder.Build();
        await host.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            Everything.Record(host.Services.GetRequiredService<GridMetrics>(), "dashboard-run");
            var endpoint = host.Services.GetRequiredService<GridMetricsServer>().Endpoint;

            // Orleans publishes some instruments (messages, watchdog) only once the silo has done a little work.
            var clock = Stopwatch.StartNew();
            ISet<string> missing;
            do
            {
                var exported = (await Scrape.GetAsync(endpoint)).Names;
                missing = queried.Where(name => !exported.Contains(name)).ToHashSet();
                if (missing.Count > 0)
                {
                    await Task.Delay(250, TestContext.Current.CancellationToken);
                }
            }
            while (missing.Count > 0 && clock.Elapsed < TimeSpan.FromSeconds(20));

            Assert.True(missing.Count == 0, $"Queried but not exported: {string.Join(", ", missing.Order())}");

            // And the other way: every Grid metric a silo exports has a panel (a histogram by any of its series).
            var exportedGrid = (await Scrape.GetAsync(endpoint)).Names.Where(n => n.StartsWith("grid_", StringComparison.Ordinal));
            var panelFamilies = InfraQueries.Dashboard(variables: false).SelectMany(PromQl.MetricNames).Select(Family).ToHashSet();
            var withoutPanel = exportedGrid.Select(Family).Where(f => !panelFamilies.Contains(f)).Distinct().Order().ToArray();
            Assert.True(withoutPanel.Length == 0, $"Exported but on no dashboard panel: {string.Join(", ", withoutPanel)}");
            foreach (string name in new[] { "grid_group_staleness_bucket", "grid_groups_dropped_stale_total",
                         "grid_learner_idle_fraction", "grid_rollout_engine_busy_seconds_total",
                         "grid_importance_weight_mean", "grid_importance_weight_max",
                         "grid_importance_weight_capped_fraction" })
            {
                Assert.Contains(name, queried);
            }
        }
        finally
        {
            await host.StopAsync(TestContext.Current.CancellationToken);
        }
    }

    /// <summary>A histogram's family name from any of its series (<c>_bucket</c>, <c>_sum</c>, <c>_count</c>).</summary>
    private static string Family(string name) =>
        System.Text.RegularExpressions.Regex.Replace(name, "_(bucket|sum|count)$", "");
}
