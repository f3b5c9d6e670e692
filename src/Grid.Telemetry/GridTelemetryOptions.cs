using System.Net;

namespace Grid.Telemetry;

/// <summary>Where a process serves its metrics. Validated once by <see cref="Validate"/>.</summary>
public sealed record GridTelemetryOptions
{
    /// <summary>First port of the local cluster in infra/prometheus/prometheus.yml (silos take 9464, 9465, ...).</summary>
    public const int DefaultPort = 9464;

    /// <summary>Address Kestrel listens on: loopback by default, <c>0.0.0.0</c> where another host scrapes.</summary>
    public string ListenAddress { get; init; } = "127.0.0.1";

    /// <summary>Port of the metrics server; 0 takes a free one (see <see cref="GridMetricsServer.Endpoint"/>).</summary>
    public int Port { get; init; } = DefaultPort;

    public string Path { get; init; } = "/metrics";

    /// <summary>Health for container and Kubernetes probes (<see cref="IGridHealth"/>), on the same port as <see cref="Path"/>.</summary>
    public string HealthPath { get; init; } = "/healthz";

    /// <summary>Export Orleans' <c>Microsoft.Orleans</c> meter beside <c>Grid</c>.</summary>
    public bool IncludeOrleans { get; init; } = true;

    /// <summary>The exporter answers scrapes within this window from one collection (its default is 300 ms).</summary>
    public int ScrapeCacheMilliseconds { get; init; } = 300;

    public IPAddress ParsedListenAddress => IPAddress.Parse(ListenAddress);

    /// <summary>The scrape URL these options give (with the configured port; see GridMetricsServer.Endpoint for port 0).</summary>
    public Uri ScrapeUrl => new UriBuilder("http", ListenAddress, Port, Path).Uri;

    public GridTelemetryOptions Validate()
    {
        if (!IPAddress.TryParse(ListenAddress, out _))
        {
            throw new ArgumentException(
                $"Metrics listen address '{ListenAddress}' is not an IP address; use e.g. 127.0.0.1 or 0.0.0.0.",
                nameof(ListenAddress));
        }

        if (Port is < 0 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(Port), Port,
                "Metrics port must be 0 (any free port) to 65535; the local cluster uses 9464-9466.");
        }

        if (string.IsNullOrWhiteSpace(Path) || !Path.StartsWith('/'))
        {
            throw new ArgumentException($"Metrics path '{Path}' must start with '/', e.g. /metrics.", nameof(Path));
        }

        if (string.IsNullOrWhiteSpace(HealthPath) || !HealthPath.StartsWith('/') || HealthPath == Path)
        {
            throw new ArgumentException($"Health path '{HealthPath}' must start with '/' and differ from the metrics path '{Path}', e.g. /healthz.",
                nameof(HealthPath));
        }

        if (ScrapeCacheMilliseconds < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ScrapeCacheMilliseconds), ScrapeCacheMilliseconds,
                "Scrape cache must be 0 (no cache) or more milliseconds.");
        }

        return this;
    }
}
