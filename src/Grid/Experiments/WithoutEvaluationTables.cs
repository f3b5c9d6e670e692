using Grid.Core;
using Grid.Training;
using Grid.Training.Evaluation;
using Grid.Training.Metrics;

namespace Grid.Cli.Experiments;

/// <summary>A run's live progress without its evaluation tables: a study prints one line per finished run instead.</summary>
internal sealed class WithoutEvaluationTables(ITrainingObserver inner) : ITrainingObserver
{
    public void OnPhase(string phase, int totalSteps) => inner.OnPhase(phase, totalSteps);

    public void OnSftStep(int step, double loss) => inner.OnSftStep(step, loss);

    public void OnEvaluation(EvalReport report)
    {
    }

    public void OnStep(StepMetrics metrics) => inner.OnStep(metrics);
}
