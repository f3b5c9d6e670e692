namespace Grid.Training.Experiments;

/// <summary>
/// One cell of the results: an arm trained on one task and evaluated on one (the same or the other), over seeds.
/// Accuracies are shares in [0, 1]; tables print them in percent.
/// </summary>
/// <param name="Values">The accuracy of each seed's final policy, in seed order (the base arm: its one evaluation).</param>
/// <param name="StandardError">Seed spread and binomial evaluation noise combined (<see cref="ExperimentStatistics.StandardError"/>).</param>
/// <param name="RelativeToSftPercent">(mean - sft mean) / sft mean * 100; null without an sft cell, or when sft is 0 and this is not.</param>
public sealed record ExperimentCell(
    string Arm,
    string TrainedTask,
    string EvalTask,
    IReadOnlyList<double> Values,
    double Mean,
    double Sd,
    int N,
    double StandardError,
    double? RelativeToSftPercent)
{
    public bool SameTask => TrainedTask == EvalTask;
}
