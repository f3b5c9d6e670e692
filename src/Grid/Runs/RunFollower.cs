using System.Diagnostics;
using Grid.Contracts.Runs;
using Grid.Core;
using Grid.Grains.Mapping;
using Grid.Hosting.Weights;
using Grid.Policy.Checkpoints;
using Grid.Policy.Model;
using Grid.Tasks;
using Grid.Tasks.Verification;
using Grid.Training;
using Grid.Training.Data;
using Grid.Training.Evaluation;
using Grid.Training.Runs;
using Grid.Training.Settings;

namespace Grid.Cli.Runs;

/// <summary>
/// Follows a run that a controller grain drives (embedded grid or cluster) into its run folder, as the in-process loop
/// writes it: metrics.jsonl from the step reports, checkpoints from the published weights every checkpoint_every
/// steps, then the final evaluation, eval-final.json and summary.json. Runs on the caller's thread, which owns this
/// side's torch work; it blocks on grain calls only while no torch scope is open.
/// </summary>
internal static class RunFollower
{
    /// <param name="where">Where the run lives, for error messages ("grid", "cluster").</param>
    /// <param name="secondsBefore">Seconds the run spent before it was followed (the warm start).</param>
    /// <param name="beforeEvaluation">Runs once the last step is in, before the final evaluation (the embedded grid stops
    /// its silo there).</param>
    /// <param name="data">The run's data as it was read when the run started (null: read it now).</param>
    public static TrainingResult Follow(IControllerGrain controller, IWeightStore weights, RunSettings settings,
        TrainingResult warm, ITrainingObserver observer, TimeSpan pollInterval, string where, double secondsBefore,
        CancellationToken cancellation, Action? beforeEvaluation = null, RunData? data = null)
    {
        // Copying checkpoints needs no parallelism. With one thread this thread starts no OpenMP team of its own, which
        // would slow every torch op of a silo in this process (the README's performance knobs).
        PolicyRuntime.UseThreads(1);
        var clock = Stopwatch.StartNew();
        var folder = RunFolder.Open(warm.RunFolder);
        var config = PolicyCheckpoint.ReadManifest(warm.FinalCheckpoint).Config;
        data ??= RunData.Shared(settings);
        using var policy = new VisionLanguagePolicy(config); // this side's copy, for checkpoints and the evaluation
        observer.OnPhase("grpo", settings.Steps);
        string lastCheckpoint = warm.FinalCheckpoint;
        long next = 0;
        long skipped = 0;
        while (next < settings.Steps)
        {
            cancellation.ThrowIfCancellationRequested();
            var status = ClusterCalls.Wait(controller.GetStatus, "following the run", cancellation);
            long from = next;
            foreach (var report in ClusterCalls.Wait(() => controller.GetStepReports(from), "following the run", cancellation))
            {
                var metrics = StepReports.ToMetrics(report);
                folder.AppendLine("metrics.jsonl", metrics);
                observer.OnStep(metrics);
                skipped += report.UpdateSkipped ? 1 : 0;
                next = report.Step + 1;
                if ((next % settings.CheckpointEvery == 0 || next == settings.Steps) && report.Weights is { } latest)
                {
                    PolicyCheckpoint.LoadWeights(policy, Wait(weights.ReadAsync(latest, cancellation)));
                    lastCheckpoint = folder.CheckpointPath(next);
                    PolicyCheckpoint.Save(policy, config, lastCheckpoint, data.Tokenizer);
                }
            }

            if (status.State == RunState.Failed)
            {
                throw new InvalidOperationException($"Run {status.RunId} failed on the {where}: {status.LastError}");
            }

            if (next < settings.Steps && status.State != RunState.Completed)
            {
                Thread.Sleep(pollInterval);
            }
        }

        double secondsGrpo = clock.Elapsed.TotalSeconds;
        beforeEvaluation?.Invoke();
        PolicyRuntime.UseThreads(settings.Threads);
        observer.OnPhase("eval", 0);
        var final = new Evaluator(new TaskVerifier(settings.FormatWeight), settings.MaxNewTokens, data.Tokenizer)
            .Evaluate(policy, data.EvalTasks, settings.EvalPrompts, "final", data.TrainedTask);
        folder.WriteJson("eval-final.json", final);
        observer.OnEvaluation(final);
        var result = new TrainingResult(folder.Path, warm.AfterSft, final, settings.Steps, skipped, warm.SecondsSft,
            secondsGrpo, secondsBefore + clock.Elapsed.TotalSeconds, lastCheckpoint, ProcessMemory.PeakRssBytes());
        folder.WriteJson("summary.json", result);
        return result;
    }

    private static T Wait<T>(Task<T> task) => task.GetAwaiter().GetResult();
}
