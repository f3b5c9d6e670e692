namespace Grid.Contracts.Learning;

/// <summary>
/// The learner as it reports itself: the next step it will apply, every version it published in order (0 first),
/// and the silo it runs on.
/// </summary>
/// <param name="Device">Where it trains on that silo: "gpu" or "cpu" (null before it is initialized).</param>
[GenerateSerializer]
[Alias("grid.LearnerStatus")]
[Immutable]
public sealed record LearnerStatus(
    [property: Id(0)] bool Initialized,
    [property: Id(1)] long NextStep,
    [property: Id(2)] long[] PublishedVersions,
    [property: Id(3)] string Silo,
    [property: Id(4)] long UpdatesSkipped,
    [property: Id(5)] string? Device = null);
