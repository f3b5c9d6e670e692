using Grid.Core;
using Grid.Training.Metrics;
using Grid.Training.Rollouts;

namespace Grid.Training.Learner;

/// <summary>
/// One GRPO-D step without Orleans: a step's sampled groups -> advantages (<see cref="GroupScorer"/>), one update
/// with the step's beta (<see cref="GrpoLearner"/>: log-probs, the clipped loss with beta * k3 KL, the optimizer step),
/// then the step's metrics. The in-process loop (<see cref="InProcessTrainer"/>) and the grid's learner both step
/// through it, which is what makes the grid compute the in-process losses bit for bit. Synchronous, on the thread
/// that owns the policy.
/// </summary>
public sealed class GrpoStepService
{
    private readonly GrpoLearner _learner;
    private readonly GroupScorer _scorer;

    public GrpoStepService(GrpoLearner learner, GroupScorer scorer)
    {
        _learner = learner;
        _scorer = scorer;
    }

    /// <summary>Scores a group's rollouts with the task's verifier.</summary>
    public GroupScorer Scorer => _scorer;

    /// <summary>The groups' advantages: group- or batch-scaled, as the scorer is set (batch needs every group of the step).</summary>
    public IReadOnlyList<ScoredGroup> Advantages(long step, IReadOnlyList<SampledGroup> sampled) => _scorer.Group(step, sampled);

    /// <summary>
    /// One update from the step's scored groups with the step's <paramref name="beta"/>. A step with no group (all
    /// failed) is reported as a skipped update and leaves the policy and optimizer untouched. Step s updates policy
    /// version s; groups sampled by an older version are corrected for it (<see cref="GrpoLearner.Update"/>).
    /// </summary>
    public GrpoStepUpdate Apply(long step, double beta, IReadOnlyList<ScoredGroup> groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        var report = groups.Count > 0
            ? _learner.Update(groups, beta, proximalVersion: step)
            : GrpoStepUpdate.Skipped($"every group of step {step} failed");
        return new GrpoStepUpdate(step, beta, groups, report);
    }
}

/// <summary>What one step's update did (<see cref="GrpoStepService.Apply"/>): the groups it used and the learner's report.</summary>
public sealed record GrpoStepUpdate(long Step, double Beta, IReadOnlyList<ScoredGroup> Groups, LearnerStepReport Report)
{
    /// <summary>The report of an update that was not applied, for <paramref name="reason"/>.</summary>
    public static LearnerStepReport Skipped(string reason) =>
        new(double.NaN, 0, 0, 0, 0, double.NaN, double.NaN, true, reason, 0, 0);

    /// <summary>The step's metrics: its groups and update, the phases' times and the validations around it.</summary>
    public StepMetrics Metrics(double secondsRollout, double secondsReward, double secondsPublish,
        ValidationMetrics? validationStart = null, ValidationMetrics? validation = null, double secondsValidation = 0) =>
        StepMetricsBuilder.Build(Step, Beta, Groups, Report, secondsRollout, secondsReward, secondsPublish,
            validationStart, validation, secondsValidation);
}
