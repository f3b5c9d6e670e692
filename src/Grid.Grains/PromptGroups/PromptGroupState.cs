using Grid.Contracts.Rollouts;

namespace Grid.Grains.PromptGroups;

/// <summary>
/// A prompt group's persisted state: its assignment, phase, attempts and retries, and the scored group once it has
/// one. A group reactivated on another silo carries on from here, so every attempt and retry is counted once. The
/// activation works on <see cref="GroupMachineState"/> (<see cref="GroupMachineState.Load"/>,
/// <see cref="GroupMachineState.Store"/>); this stored shape is unchanged, so records written by earlier versions load.
/// </summary>
[GenerateSerializer]
[Alias("grid.PromptGroupState")]
public sealed class PromptGroupState
{
    [Id(0)] public PromptGroupAssignment? Assignment { get; set; }

    /// <summary>Pending: waiting for its next attempt; Generating: attempt <see cref="Attempts"/> is running.</summary>
    [Id(1)] public GroupPhase Phase { get; set; }

    /// <summary>Attempts started, the first included.</summary>
    [Id(2)] public int Attempts { get; set; }

    [Id(3)] public ScoredGroupRecord? Scored { get; set; }

    [Id(4)] public string? LastError { get; set; }

    /// <summary>Failed attempts that were followed by another attempt.</summary>
    [Id(5)] public int Retries { get; set; }

    /// <summary>The learner has the outcome: the scored group (Delivered) or the failure (Failed).</summary>
    [Id(6)] public bool Reported { get; set; }

    /// <summary>
    /// Attempts lost with their silo (or a stopped cluster). They count against the retry budget, but their samples
    /// were never seen, so the next attempt draws the same sampling seeds: <see cref="Draw"/>.
    /// </summary>
    [Id(7)] public int LostAttempts { get; set; }

    /// <summary>
    /// Which draw of sampling seeds (and of injected faults) the current attempt uses, from 1: attempts that ran to an
    /// outcome, plus this one. A run stopped mid-generation and resumed samples what it would have sampled.
    /// </summary>
    public int Draw => Attempts - LostAttempts;
}
