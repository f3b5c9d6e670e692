using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Grid.Telemetry.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Grid.Telemetry.Tests;

public class DashboardAndAlertsTests
{
    [Fact]
    public async Task Every_metric_the_dashboard_and_the_alerts_query_is_on_a_live_silos_metrics()
    {
        var queried = DashboardExpressions().Concat(AlertExpressions()).SelectMany(PromQl.MetricNames).ToHashSet();
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
        }
        finally
        {
            await host.StopAsync(TestContext.Current.CancellationToken);
        }
    }

    private static IEnumerable<string> DashboardExpressions()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(RepoPaths.Dashboard));
        var expressions = new List<string>();
        Collect(dashboard.RootElement, expressions);
        Assert.True(expressions.Count > 20, $"Only {expressions.Count} queries found in {RepoPaths.Dashboard}.");
        return expressions;

        static void Collect(JsonElement element, List<string> into)
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var property in element.EnumerateObject())
                    {
                        if (property.Name is "expr" or "definition" && property.Value.ValueKind == JsonValueKind.String)
                        {
                            into.Add(property.Value.GetString()!);
                        }
                        else
                        {
                            Collect(property.Value, into);
                        }
                    }

                    break;
                case JsonValueKind.Array:
                    foreach (var item in element.EnumerateArray())
                    {
                        Collect(item, into);
                    }

                    break;
            }
        }
    }

    /// <summary>The <c>expr:</c> of each rule, single-line or a <c>|</c> block.</summary>
    private static IEnumerable<string> AlertExpressions()
    {
        var lines = File.ReadAllLines(RepoPaths.AlertRules);
        var expressions = new List<string>();
        for (int i = 0; i < lines.Length; i++)
        {
            var match = Regex.Match(lines[i], @"^(\s*)expr:\s*(.*)$");
            if (!match.Success)
            {
                continue;
            }

            string value = match.Groups[2].Value.Trim();
            if (value is "|" or ">" or "|-" or ">-")
            {
                int indent = match.Groups[1].Value.Length;
                var block = new List<string>();
                while (i + 1 < lines.Length &&
                    (lines[i + 1].Trim().Length == 0 || lines[i + 1].Length - lines[i + 1].TrimStart().Length > indent))
                {
                    block.Add(lines[++i]);
                }

                value = string.Join("\n", block);
            }

            expressions.Add(value);
        }

        Assert.True(expressions.Count >= 5, $"Only {expressions.Count} rules found in {RepoPaths.AlertRules}.");
        return expressions;
    }
}
