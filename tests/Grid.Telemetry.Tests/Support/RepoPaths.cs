namespace Grid.Telemetry.Tests.Support;

/// <summary>Files of the repository under test, found from the test's output folder.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string PrometheusConfig => Path.Combine(Root, "infra", "prometheus", "prometheus.yml");

    public static string AlertRules => Path.Combine(Root, "infra", "prometheus", "alerts.yml");

    public static string AlertTests => Path.Combine(Root, "infra", "prometheus", "alerts.test.yml");

    public static string MetricsDoc => Path.Combine(Root, "infra", "prometheus", "METRICS.md");

    public static string Dashboard => Path.Combine(Root, "infra", "grafana", "dashboards", "grid.json");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Grid.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Grid.sln above {AppContext.BaseDirectory}.");
    }
}
