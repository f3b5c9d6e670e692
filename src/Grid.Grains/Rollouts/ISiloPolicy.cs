using Grid.Grains.Learner;
using Grid.Policy.Generation;

namespace Grid.Grains.Rollouts;

/// <summary>
/// What a silo's rollouts sample from and what its learners train: a strategy chosen once per silo, at build time,
/// from <see cref="RolloutEngineOptions.Policy"/> (<see cref="SiloPolicies.For"/>, registered by <c>AddGridGrains</c>).
/// Training uses <see cref="ModelPolicy"/>; <see cref="FixedAnswerPolicy"/> benchmarks the grid itself. The grains
/// and the rollout engine ask the strategy and never test which one they have.
/// </summary>
public interface ISiloPolicy
{
    /// <summary>
    /// A request's completions when this policy answers without generating: at once, or after a wait that holds no
    /// thread (a benchmark policy's simulated generation, <see cref="FixedAnswerCost"/>); null when the rollout engine
    /// must generate them from the run's model.
    /// </summary>
    Task<IReadOnlyList<GenerationResult>>? AnswerAsync(RolloutRequest request);

    /// <summary>The learner side of one run on this silo: what it trains, on which thread, and how it starts.</summary>
    ILearnerModel CreateLearner(LearnerContext context);
}

/// <summary>The policy strategies by <see cref="RolloutPolicy"/>.</summary>
public static class SiloPolicies
{
    public static ISiloPolicy For(RolloutPolicy policy) => policy switch
    {
        RolloutPolicy.Model => new ModelPolicy(),
        RolloutPolicy.FixedAnswer => new FixedAnswerPolicy(),
        _ => throw new ArgumentOutOfRangeException(nameof(policy), policy, "Use RolloutPolicy.Model (or FixedAnswer for benchmarks)."),
    };
}

/// <summary>The run's policy network at the requested version: the rollout engine generates, the learner trains it.</summary>
public sealed class ModelPolicy : ISiloPolicy
{
    public Task<IReadOnlyList<GenerationResult>>? AnswerAsync(RolloutRequest request) => null;

    public ILearnerModel CreateLearner(LearnerContext context) => new ModelLearner(context);
}
