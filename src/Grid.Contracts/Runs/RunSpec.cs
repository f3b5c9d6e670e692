namespace Grid.Contracts.Runs;

/// <summary>
/// What a run is: the run settings as their JSON (RunSettingsLoader.ToJson; the grains validate it once) and
/// whether its learner may train on a CPU silo.
/// </summary>
[GenerateSerializer]
[Alias("grid.RunSpec")]
[Immutable]
public sealed record RunSpec(
    [property: Id(0)] string SettingsJson,
    [property: Id(1)] bool AllowCpuLearner);
