namespace Grid.Training.Experiments;

/// <summary>
/// One arm against another in one (trained task, eval task) column: the difference of their mean accuracies, its
/// standard error, and whether the difference exceeds about two of them (<see cref="ExperimentStatistics.Resolves"/>).
/// </summary>
public sealed record ArmComparison(
    string TrainedTask,
    string EvalTask,
    string Arm,
    string Against,
    double Difference,
    double StandardError,
    bool Resolved);
