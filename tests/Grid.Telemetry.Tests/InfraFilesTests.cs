using Grid.Telemetry.Tests.Support;

namespace Grid.Telemetry.Tests;

public class InfraFilesTests
{
    [Fact]
    public async Task The_shipped_scrape_config_passes_promtool_check_config()
    {
        var (exitCode, output) = await Tools.RunAsync("promtool", "check", "config", RepoPaths.PrometheusConfig);

        Assert.True(exitCode == 0, output);
    }

    [Fact]
    public async Task The_shipped_alert_rules_pass_promtool_check_rules()
    {
        var (exitCode, output) = await Tools.RunAsync("promtool", "check", "rules", RepoPaths.AlertRules);

        Assert.True(exitCode == 0, output);
        Assert.Contains("SUCCESS: 7 rules found", output);
    }

    [Fact]
    public async Task Every_alert_fires_on_its_condition_and_stays_quiet_on_its_look_alike()
    {
        var (exitCode, output) = await Tools.RunAsync("promtool", "test", "rules", RepoPaths.AlertTests);

        Assert.True(exitCode == 0, output);
        Assert.Contains("SUCCESS", output);
        // Each of the seven rules is exercised by a test case.
        string tests = File.ReadAllText(RepoPaths.AlertTests);
        foreach (string alert in new[] { "GridLearnerStalled", "GridRolloutFailureRateHigh", "GridNoGpuSilo",
                     "GridRewardCollapsed", "GridKlExploding", "GridStaleGroupsDropped", "GridSiloMetricsDown" })
        {
            Assert.Contains($"alertname: {alert}", tests);
        }
    }
}
