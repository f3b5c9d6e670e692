using Orleans.Concurrency;

namespace Grid.Contracts.Rollouts;

/// <summary>
/// One prompt of one step (key: <see cref="PromptGroupKey"/>): samples its G completions from the assigned policy
/// version, scores them, computes advantages and hands the scored group to the learner.
/// </summary>
public interface IPromptGroupGrain : IGrainWithStringKey
{
    /// <summary>Starts the group in the background; starting it again with the same assignment changes nothing.</summary>
    Task Start(PromptGroupAssignment assignment);

    [AlwaysInterleave]
    Task<PromptGroupStatus> GetStatus();

    /// <summary>
    /// The group's step is recorded: deletes its persisted state and deactivates it. Nothing reads a recorded step's
    /// groups again; a later Start would begin afresh.
    /// </summary>
    Task Forget();
}
