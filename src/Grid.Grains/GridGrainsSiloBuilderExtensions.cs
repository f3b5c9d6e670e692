using Grid.Grains.Rollouts;
using Grid.Grains.Telemetry;
using Grid.Hosting.Serialization;
using Microsoft.Extensions.DependencyInjection;

namespace Grid.Grains;

/// <summary>Grid's grains on a silo: call <c>silo.AddGridSilo(options).AddGridGrains()</c>.</summary>
public static class GridGrainsSiloBuilderExtensions
{
    /// <summary>
    /// Registers the silo's rollout engine (one thread owning the silo's policy copies); the grains themselves are
    /// found by Orleans in this assembly. Needs the weight store that <c>AddGridStorage</c> registers.
    /// </summary>
    public static ISiloBuilder AddGridGrains(this ISiloBuilder silo, RolloutEngineOptions? rollouts = null)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.Services.AddGridSettingsCodec(); // the grains' calls carry RunSettings
        silo.Services.AddSingleton((rollouts ?? new RolloutEngineOptions()).Validate());
        silo.Services.AddSingleton<RolloutEngine>();
        silo.Services.AddHostedService<SiloCapacityReporter>();
        return silo;
    }
}
