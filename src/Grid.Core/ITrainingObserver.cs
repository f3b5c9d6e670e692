namespace Grid.Core;

/// <summary>Live progress of a run, for the terminal, the metrics or a test. Called on the training thread; keep it quick.</summary>
public interface ITrainingObserver
{
    void OnPhase(string phase, int totalSteps);

    void OnSftStep(int step, double loss);

    void OnEvaluation(EvalReport report);

    void OnStep(StepMetrics metrics);
}
