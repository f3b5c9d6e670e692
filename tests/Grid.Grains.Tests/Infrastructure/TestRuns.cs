using System.Runtime.ExceptionServices;
using Grid.Core;
using Grid.Training;
using Grid.Training.Evaluation;
using Grid.Training.Metrics;
using Grid.Training.Settings;

namespace Grid.Grains.Tests.Infrastructure;

/// <summary>Small runs for the tests: the smoke preset, written under a temp folder.</summary>
public static class TestRuns
{
    public static RunSettings Smoke(params string[] overrides)
    {
        string output = Directory.CreateTempSubdirectory("grid-grains-runs-").FullName;
        return RunSettingsLoader.Load("smoke", overrides: [$"output_directory=\"{output}\"", .. overrides]);
    }

    /// <summary>The in-process baseline on a thread of its own (torch work never hops threads).</summary>
    public static (TrainingResult Result, IReadOnlyList<StepMetrics> Steps) InProcess(RunSettings settings)
    {
        var observer = new RecordingObserver();
        TrainingResult? result = null;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = new InProcessTrainer(settings, observer).Run();
            }
            catch (Exception error)
            {
                failure = ExceptionDispatchInfo.Capture(error);
            }
        }, 16 * 1024 * 1024);
        thread.Start();
        thread.Join();
        failure?.Throw();
        return (result!, observer.Steps);
    }

    /// <summary>A policy checkpoint for grid runs: the SFT warm start of a quick in-process run.</summary>
    public static string WarmStart(RunSettings settings)
    {
        var observer = new RecordingObserver();
        TrainingResult? result = null;
        var thread = new Thread(() => result = new InProcessTrainer(settings, observer).Run(grpo: false), 16 * 1024 * 1024);
        thread.Start();
        thread.Join();
        return result!.FinalCheckpoint;
    }

    private sealed class RecordingObserver : ITrainingObserver
    {
        public List<StepMetrics> Steps { get; } = [];

        public void OnPhase(string phase, int totalSteps)
        {
        }

        public void OnSftStep(int step, double loss)
        {
        }

        public void OnEvaluation(EvalReport report)
        {
        }

        public void OnStep(StepMetrics metrics) => Steps.Add(metrics);
    }
}
