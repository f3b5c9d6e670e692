using Grid.Hosting.Placement;
using Grid.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Runtime;

namespace Grid.Grains.Telemetry;

/// <summary>
/// Exports, once at silo start, how many GPUs this silo offers learners (<c>grid_silo_gpu_devices{silo}</c>), so the
/// "no GPU silo" alert and the dashboard see every silo, including the CPU-only ones that never host a learner.
/// Does nothing on a silo that serves no metrics (no <see cref="GridMetrics"/> registered).
/// </summary>
internal sealed class SiloCapacityReporter(IServiceProvider services, ILocalSiloDetails silo) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        services.GetService<GridMetrics>()?.SiloCapacity(silo.SiloAddress.ToString(),
            services.GetService<SiloCompute>()?.GpuDevices ?? 0);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
