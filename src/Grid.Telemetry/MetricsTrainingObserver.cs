using Grid.Core;

namespace Grid.Telemetry;

/// <summary>
/// Exports the in-process trainer's steps as the run's training metrics, then passes every callback on to
/// <paramref name="inner"/> (the terminal progress, say).
/// </summary>
public sealed class MetricsTrainingObserver(GridMetrics gridMetrics, string run, ITrainingObserver? inner = null)
    : ITrainingObserver
{
    private readonly GridMetrics _metrics = gridMetrics ?? throw new ArgumentNullException(nameof(gridMetrics));
    private readonly string _run = string.IsNullOrWhiteSpace(run)
        ? throw new ArgumentException("The run name labels every metric; give a non-empty one.", nameof(run))
        : run;

    public void OnPhase(string phase, int totalSteps)
    {
        if (phase == "grpo")
        {
            _metrics.RunPlanned(_run, totalSteps);
        }

        inner?.OnPhase(phase, totalSteps);
    }

    public void OnSftStep(int step, double loss) => inner?.OnSftStep(step, loss);

    public void OnEvaluation(EvalReport report) => inner?.OnEvaluation(report);

    public void OnStep(StepMetrics metrics)
    {
        _metrics.RecordStep(_run, metrics);
        inner?.OnStep(metrics);
    }
}
