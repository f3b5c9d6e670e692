using Grid.Cli.Commands;
using Grid.Cli.Embedded;
using Grid.Training;
using Grid.Training.Experiments;
using Grid.Training.Settings;

namespace Grid.Cli.Benchmarks;

/// <summary>
/// The learning the main command delivers: <c>grid train</c>'s own run (warm start, GRPO-D on the embedded grid, held-out
/// evaluation before and after), reduced to the gain on the trained task and the change on every other task. A change
/// that shrinks the gain shows here; the target is measured, not timed.
/// </summary>
internal static class LearningBenchmark
{
    /// <summary>The gain <c>grid train</c> is meant to deliver on its trained task, in accuracy points.</summary>
    public const double TargetGainPoints = 15;

    public static LearningBench Run(RunSettings settings, CancellationToken cancellation)
    {
        var result = TorchThread.Run(() => ConsoleProgress.Run(observer =>
            EmbeddedGridTrainer.Run(settings, observer, metrics: null, cancellation)));
        var tasks = result.Final.Tasks.Select(final =>
        {
            var start = result.AfterSft.For(final.Task);
            return new TaskGain(final.Task, final.Task == settings.Task, final.Prompts, start.Accuracy, final.Accuracy,
                (final.Accuracy - start.Accuracy) * 100, StandardErrorPoints(start.Accuracy, final.Accuracy, final.Prompts));
        }).ToArray();
        return new LearningBench(settings.Task, settings.Steps, settings.PromptsPerStep, settings.GroupSize, tasks,
            tasks.Single(t => t.Trained).GainPoints, TargetGainPoints, result.SecondsSft, result.SecondsGrpo,
            result.SecondsTotal, result.PeakRssBytes, result.RunFolder);
    }

    /// <summary>
    /// One standard error of a change in accuracy between two evaluations on the same <paramref name="prompts"/>, in
    /// points, taking the two as independent binomial samples (the same prompts make the true error somewhat smaller).
    /// </summary>
    public static double StandardErrorPoints(double before, double after, int prompts) =>
        100 * ExperimentStatistics.DifferenceStandardError(
            ExperimentStatistics.StandardError(new SampleSummary(before, 0, 1), prompts),
            ExperimentStatistics.StandardError(new SampleSummary(after, 0, 1), prompts));
}

/// <summary>Held-out accuracy of one task before and after GRPO-D.</summary>
public sealed record TaskGain(string Task, bool Trained, int Prompts, double AccuracyBefore, double AccuracyAfter,
    double GainPoints, double StandardErrorPoints);

/// <summary>What <c>grid bench --suite learning</c> measured.</summary>
public sealed record LearningBench(
    string TrainedTask,
    int Steps,
    int PromptsPerStep,
    int GroupSize,
    IReadOnlyList<TaskGain> Tasks,
    double GainPoints,
    double TargetGainPoints,
    double SecondsSft,
    double SecondsGrpo,
    double SecondsTotal,
    long PeakRssBytes,
    string RunFolder);
