using Grid.Grains.Datasets;
using Grid.Grains.PromptGroups;
using Grid.Grains.Rollouts;
using Grid.Grains.Telemetry;
using Grid.Grains.Torch;
using Grid.Hosting.Placement;
using Grid.Hosting.Weights;
using Grid.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Grid.Grains;

/// <summary>Grid's grains on a silo: call <c>silo.AddGridSilo(options).AddGridGrains()</c>.</summary>
public static class GridGrainsSiloBuilderExtensions
{
    /// <summary>
    /// Registers the silo's policy strategy (<see cref="ISiloPolicy"/>, from <see cref="RolloutEngineOptions.Policy"/>),
    /// its one CPU torch thread (<see cref="TorchWorker"/> <c>grid-torch</c>, shared by the rollout engine and a CPU
    /// learner) and the rollout engine living on it; the grains themselves are found by Orleans in this assembly. Prompt
    /// groups are kept off learner-only silos (<see cref="RolloutPlacement"/>, silo role). Needs the weight store that
    /// <c>AddGridStorage</c> registers, and the placement filters of <c>AddGridPlacement</c>. Runs on published data
    /// (<c>grid submit</c> with <c>data.train</c>) are downloaded into <paramref name="datasetCache"/>
    /// (<see cref="SiloDatasets"/>; default <see cref="DefaultDatasetCache"/>).
    /// </summary>
    public static ISiloBuilder AddGridGrains(this ISiloBuilder silo, RolloutEngineOptions? rollouts = null,
        string? datasetCache = null)
    {
        ArgumentNullException.ThrowIfNull(silo);
        var options = (rollouts ?? new RolloutEngineOptions()).Validate();
        silo.Services.AddSingleton(options);
        silo.Services.AddSingleton(SiloPolicies.For(options.Policy));
        silo.Services.AddSingleton(_ => new TorchWorker("grid-torch", RolloutEngine.SettleThreads));
        silo.Services.AddSingleton(services => new RolloutEngine(services.GetRequiredService<IWeightStore>(), options,
            services.GetRequiredService<ILogger<RolloutEngine>>(), services.GetRequiredService<TorchWorker>(),
            services.GetRequiredService<ISiloPolicy>(), services.GetService<GridMetrics>()));
        silo.Services.AddSingleton(services => new SiloDatasets(services.GetRequiredService<IWeightStore>(),
            datasetCache ?? DefaultDatasetCache, services.GetRequiredService<ILogger<SiloDatasets>>()));
        silo.Services.AddHostedService<SiloCapacityReporter>();
        return silo.AddRolloutPlacement(typeof(PromptGroupGrain));
    }

    /// <summary>The dataset cache of a silo built without one: <c>grid-datasets</c> in the temp folder.</summary>
    public static string DefaultDatasetCache => Path.Combine(Path.GetTempPath(), "grid-datasets");
}
