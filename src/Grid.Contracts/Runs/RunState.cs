namespace Grid.Contracts.Runs;

/// <summary>Where a run is in its life.</summary>
[GenerateSerializer]
[Alias("grid.RunState")]
public enum RunState
{
    NotStarted = 0,
    Running = 1,
    Completed = 2,
    Failed = 3,
}
