namespace Grid.Contracts.Rollouts;

/// <summary>
/// A prompt's G scored rollouts and their advantages, as a prompt group hands them to the learner. No image: the
/// learner regenerates the prompt deterministically from the run seed, step and prompt index. <c>Attempts</c> counts the
/// attempt that scored it and every one before, so the step's report can count retries after the group's state is gone.
/// </summary>
[GenerateSerializer]
[Alias("grid.ScoredGroupRecord")]
[Immutable]
public sealed record ScoredGroupRecord(
    [property: Id(0)] long Step,
    [property: Id(1)] int PromptIndex,
    [property: Id(2)] long PolicyVersion,
    [property: Id(3)] RolloutRecord[] Rollouts,
    [property: Id(4)] double[] Advantages,
    [property: Id(5)] double SecondsRollout,
    [property: Id(6)] double SecondsReward,
    [property: Id(7)] int Attempts = 1);
