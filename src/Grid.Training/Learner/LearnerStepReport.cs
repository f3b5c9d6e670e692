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
    double SecondsUpdate);
