using Grid.Contracts.Rollouts;
using Orleans.Concurrency;

namespace Grid.Contracts.Learning;

/// <summary>
/// The run's learner (key: LearnerKey.Create(runId, allowCpu)): the trainable and reference policies and the
/// optimizer. Applies one GRPO-D update per step once the step's groups are in, publishes the new weights, and
/// reports the step to the controller. Every step is applied at most once.
/// </summary>
public interface ILearnerGrain : IGrainWithStringKey
{
    /// <summary>Loads the run's initial weights and publishes them as version 0; again, it returns the same.</summary>
    Task<LearnerReady> Initialize(LearnerSetup setup);

    /// <summary>The controller's plan for a step: beta and how many groups to wait for.</summary>
    Task BeginStep(StepPlan plan);

    /// <summary>
    /// A scored group; one already received, or of a step already applied, is ignored. A group sampled by a version
    /// more than rollouts.max_staleness behind its step is refused: the receipt names the weights to sample it again with.
    /// </summary>
    Task<SubmitReceipt> SubmitGroup(ScoredGroupRecord group);

    /// <summary>A group that failed after <paramref name="attempts"/> attempts (its retry budget): the step goes on without it.</summary>
    Task SubmitFailure(long step, int promptIndex, int attempts, string reason);

    [AlwaysInterleave]
    Task<LearnerStatus> GetStatus();
}
