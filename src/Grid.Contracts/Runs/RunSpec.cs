using Grid.Core.Settings;

namespace Grid.Contracts.Runs;

/// <summary>
/// What a run is: its validated settings (the grains check them once, at the controller) and whether its learner may
/// train on a CPU silo. The settings cross grain calls as the record itself (as JSON, through
/// <see cref="RunSettingsConverter"/>, which Orleans finds with the contracts) and are never copied in a silo.
/// </summary>
[GenerateSerializer]
[Alias("grid.RunSpec")]
[Immutable]
public sealed record RunSpec(
    [property: Id(2)] RunSettings Settings,
    [property: Id(1)] bool AllowCpuLearner)
{
    /// <summary>
    /// Only in a spec stored before the settings travelled as a record (a controller's state written by an older
    /// version): the settings as their JSON, with <see cref="Settings"/> missing. The controller upgrades such a spec
    /// when it loads it; nothing writes this any more.
    /// </summary>
    [Id(0)]
    public string? SettingsJson { get; init; }

    /// <summary>The run's own data as <c>grid submit</c> published it through the cluster's store; null on the built-in
    /// tasks and on the embedded grid (which reads <c>data.train</c> where it is).</summary>
    [Id(3)]
    public RunDataset? Dataset { get; init; }
}
