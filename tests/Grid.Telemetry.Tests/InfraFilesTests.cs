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
        Assert.Contains("SUCCESS: 6 rules found", output);
    }
}
