namespace Grid.Telemetry;

/// <summary>What <c>/healthz</c> answers: 200 with <see cref="Detail"/> when healthy, else 503.</summary>
public sealed record GridHealthReport(bool Healthy, string Detail);

/// <summary>
/// The health <see cref="GridMetricsServer"/> serves on <see cref="GridTelemetryOptions.HealthPath"/> beside the scrape
/// endpoint: a silo registers one that is healthy only while it is active in its cluster, for container and Kubernetes
/// probes. A process without one answers 200 (it serves, and has no cluster membership to report).
/// </summary>
public interface IGridHealth
{
    GridHealthReport Check();
}
