using Grid.Learning.Objective;

namespace Grid.Training.Learner;

/// <summary>What one GRPO-D update measured (docs/algorithm.md section 8, learner side).</summary>
public sealed record LearnerStepReport(
    double Loss,
    double MeanKl,
    double ClipFraction,
    double ClipFractionLow,
    double ClipFractionHigh,
    double Entropy,
    double GradNorm,
    bool Skipped,
    string? SkipReason,
    double SecondsReference,
    double SecondsUpdate,
    ImportanceWeightStatistics? ImportanceWeights = null)
{
    /// <summary>The decoupled objective's weights pi_prox / pi_behav; w = 1 everywhere for a synchronous update.</summary>
    public ImportanceWeightStatistics Weights => ImportanceWeights ?? ImportanceWeightStatistics.Synchronous;
}
