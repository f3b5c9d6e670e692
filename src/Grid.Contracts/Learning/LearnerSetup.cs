namespace Grid.Contracts.Learning;

/// <summary>The run's settings JSON; its <c>init_checkpoint</c> (if any) holds the initial weights.</summary>
[GenerateSerializer]
[Alias("grid.LearnerSetup")]
[Immutable]
public sealed record LearnerSetup([property: Id(0)] string RunId, [property: Id(1)] string SettingsJson);
