namespace Grid.Contracts.Rollouts;

/// <summary>Where a prompt group is; persisted with it.</summary>
[GenerateSerializer]
[Alias("grid.GroupPhase")]
public enum GroupPhase
{
    Pending = 0,
    Generating = 1,
    Scored = 2,
    Delivered = 3,
    Failed = 4,
}
