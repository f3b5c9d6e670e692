using System.Diagnostics;
using Grid.Contracts.Runs;
using Grid.Grains.Mapping;
using Grid.Hosting.Weights;
using Grid.Policy.Checkpoints;
using Grid.Policy.Model;
using Grid.Tasks;
using Grid.Tasks.Verification;
using Grid.Training;
using Grid.Training.Evaluation;
using Grid.Training.Runs;
using Grid.Training.Settings;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Grid.Cli.Embedded;

/// <summary>
/// <c>grid train</c> on the grid: the SFT warm start and its evaluation as in-process, then GRPO-D driven by the run's
/// controller grain on an embedded silo, then the final evaluation. Writes the same run folder as the in-process
/// loop (metrics.jsonl from the step reports, checkpoints from the published weights, eval-final.json). Runs on the
/// caller's thread, which owns this side's torch work (checkpoints, evaluation); it only waits on grain calls while
/// no torch scope is open.
/// </summary>
internal static class EmbeddedGridTrainer
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    public static TrainingResult Run(RunSettings settings, ITrainingObserver observer, CancellationToken cancellation)
    {
        var total = Stopwatch.StartNew();
        var warm = new InProcessTrainer(settings, observer).Run(grpo: false, cancellation);
        var folder = RunFolder.Open(warm.RunFolder);
        string runId = Path.GetFileName(folder.Path);
        var gridSettings = settings with { InitCheckpoint = warm.FinalCheckpoint };
        var config = PolicyCheckpoint.ReadManifest(warm.FinalCheckpoint).Config;
        using var policy = new VisionLanguagePolicy(config); // this side's copy, for checkpoints and the evaluation

        var grpoClock = Stopwatch.StartNew();
        string lastCheckpoint = warm.FinalCheckpoint;
        long skipped = 0;
        using (var host = EmbeddedGrid.Start(Path.Combine(folder.Path, "weights")))
        {
            var weights = host.Services.GetRequiredService<IWeightStore>();
            var controller = host.Services.GetRequiredService<IGrainFactory>().GetGrain<IControllerGrain>(runId);
            Wait(controller.Start(new RunSpec(RunSettingsLoader.ToJson(gridSettings), AllowCpuLearner: true)));
            observer.OnPhase("grpo", settings.Steps);
            long next = 0;
            WeightReference? latest = null;
            // The host's console lifetime takes SIGTERM/SIGINT for itself and stops the application; treat that
            // like the command's own cancellation so `kill` and Ctrl+C end the run.
            var stopping = host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
            while (next < settings.Steps)
            {
                cancellation.ThrowIfCancellationRequested();
                stopping.ThrowIfCancellationRequested();
                var status = Wait(controller.GetStatus());
                foreach (var report in Wait(controller.GetStepReports(next)))
                {
                    var metrics = StepReports.ToMetrics(report);
                    folder.AppendLine("metrics.jsonl", metrics);
                    observer.OnStep(metrics);
                    skipped += report.UpdateSkipped ? 1 : 0;
                    next = report.Step + 1;
                    latest = report.Weights;
                    if (next % settings.CheckpointEvery == 0 || next == settings.Steps)
                    {
                        Load(policy, weights, latest!);
                        lastCheckpoint = folder.CheckpointPath(next);
                        PolicyCheckpoint.Save(policy, config, lastCheckpoint);
                    }
                }

                if (status.State == RunState.Failed)
                {
                    throw new InvalidOperationException($"Run {runId} failed on the grid: {status.LastError}");
                }

                if (next < settings.Steps)
                {
                    Thread.Sleep(PollInterval);
                }
            }

            host.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        }

        double secondsGrpo = grpoClock.Elapsed.TotalSeconds;
        observer.OnPhase("eval", 0);
        var final = new Evaluator(new TaskVerifier(settings.FormatWeight), settings.MaxNewTokens)
            .Evaluate(policy, TaskCatalog.All, settings.EvalPrompts, "final", settings.Task);
        folder.WriteJson("eval-final.json", final);
        observer.OnEvaluation(final);

        var result = new TrainingResult(folder.Path, warm.AfterSft, final, settings.Steps, skipped, warm.SecondsSft,
            secondsGrpo, total.Elapsed.TotalSeconds, lastCheckpoint, ProcessMemory.PeakRssBytes());
        folder.WriteJson("summary.json", result);
        return result;
    }

    private static void Load(VisionLanguagePolicy policy, IWeightStore weights, WeightReference reference) =>
        PolicyCheckpoint.LoadWeights(policy, Wait(weights.ReadAsync(reference)));

    private static T Wait<T>(Task<T> task) => task.GetAwaiter().GetResult();
}
