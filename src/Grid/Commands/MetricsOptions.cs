using System.CommandLine;
using System.Globalization;
using Grid.Cli.Cluster;
using Grid.Hosting.Configuration;
using Grid.Telemetry;
using Microsoft.Extensions.Configuration;

namespace Grid.Cli.Commands;

/// <summary>
/// Where a process serves <c>/metrics</c> (<c>grid silo</c>, <c>grid train</c>): the flags, else the keys
/// <c>Grid:Metrics:Port</c> and <c>Grid:Metrics:ListenAddress</c> (appsettings.json, --settings, environment
/// <c>GRID__METRICS__PORT</c>), else 127.0.0.1:9464, the first target of infra/prometheus/prometheus.yml.
/// </summary>
internal sealed class MetricsOptions
{
    public const string Section = ClusterConfiguration.Section + ":Metrics";

    public Option<int?> Port { get; } = new("--metrics-port")
    {
        Description = $"Port of /metrics and /healthz (default {GridTelemetryOptions.DefaultPort}; 0 = no metrics server; one per process " +
            "on a machine). Key Grid:Metrics:Port.",
    };

    public Option<string?> Address { get; } = new("--metrics-address")
    {
        Description = "Address /metrics and /healthz listen on (default 127.0.0.1; 0.0.0.0 when Prometheus scrapes from another host). " +
            "Key Grid:Metrics:ListenAddress.",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Port);
        command.Options.Add(Address);
    }

    /// <summary>The validated options, or null when the port is 0 (no metrics server).</summary>
    public GridTelemetryOptions? Load(ParseResult parse, IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        string? configuredPort = section[nameof(GridTelemetryOptions.Port)];
        int port = parse.GetValue(Port) ?? (configuredPort is null ? GridTelemetryOptions.DefaultPort : ParsePort(configuredPort));
        if (port == 0)
        {
            return null;
        }

        var options = new GridTelemetryOptions
        {
            Port = port,
            ListenAddress = parse.GetValue(Address) ?? section[nameof(GridTelemetryOptions.ListenAddress)] ?? "127.0.0.1",
        };
        try
        {
            return options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new GridConfigurationException($"Invalid metrics setting: {e.Message}");
        }
    }

    private static int ParsePort(string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int port)
            ? port
            : throw new GridConfigurationException(
                $"Grid:Metrics:Port is '{value}'; give a port number (0 = no metrics server), e.g. 9464.");
}
