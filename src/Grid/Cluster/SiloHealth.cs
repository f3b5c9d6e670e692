using Grid.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace Grid.Cli.Cluster;

/// <summary>
/// A silo's <c>/healthz</c>: healthy only while the silo is <see cref="SiloStatus.Active"/> in its cluster's membership
/// (Orleans' <see cref="ISiloStatusOracle"/>), so a probe sees a joining, stopping or declared-dead silo as unhealthy
/// (503) and a ready one as healthy (200).
/// </summary>
internal sealed class SiloHealth(IServiceProvider services) : IGridHealth
{
    public GridHealthReport Check()
    {
        // Resolved at the probe, not at construction: the metrics server starts before the silo's services exist.
        var oracle = services.GetService<ISiloStatusOracle>();
        if (oracle is null)
        {
            return new GridHealthReport(false, "no Orleans silo in this process");
        }

        var status = oracle.CurrentStatus;
        return new GridHealthReport(status == SiloStatus.Active,
            $"silo {oracle.SiloName} ({oracle.SiloAddress}) is {status} in its cluster");
    }
}
