namespace Grid.Contracts.Rollouts;

/// <summary>A prompt group as it reports itself; <paramref name="Silo"/> is where it runs.</summary>
[GenerateSerializer]
[Alias("grid.PromptGroupStatus")]
[Immutable]
public sealed record PromptGroupStatus(
    [property: Id(0)] string Key,
    [property: Id(1)] GroupPhase Phase,
    [property: Id(2)] int Attempts,
    [property: Id(3)] string Silo,
    [property: Id(4)] string? LastError);
