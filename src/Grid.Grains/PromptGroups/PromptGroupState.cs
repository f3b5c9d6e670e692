using Grid.Contracts.Rollouts;

namespace Grid.Grains.PromptGroups;

/// <summary>A prompt group's persisted state: its assignment, phase, attempts, and the scored group once it has one.</summary>
[GenerateSerializer]
[Alias("grid.PromptGroupState")]
public sealed class PromptGroupState
{
    [Id(0)] public PromptGroupAssignment? Assignment { get; set; }

    [Id(1)] public GroupPhase Phase { get; set; }

    [Id(2)] public int Attempts { get; set; }

    [Id(3)] public ScoredGroupRecord? Scored { get; set; }

    [Id(4)] public string? LastError { get; set; }
}
