using System.Diagnostics;
using Grid.Cli.Commands;
using Grid.Cli.Runs;
using Grid.Contracts.Runs;
using Grid.Core;
using Grid.Hosting.Weights;
using Grid.Telemetry;
using Grid.Training;
using Grid.Training.Runs;
using Grid.Training.Settings;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Grid.Cli.Embedded;

/// <summary>
/// <c>grid train</c> on the grid: the SFT warm start and its evaluation as in-process, then GRPO-D driven by the run's
/// controller grain on an embedded silo, then the final evaluation. Writes the same run folder as the in-process
/// loop (metrics.jsonl from the step reports, checkpoints from the published weights, eval-final.json), plus the
/// grid's grain state (grid-state/) and weight store (weights/), from which <see cref="Resume"/> continues a run that
/// was killed or stopped. Runs on the caller's thread, which owns this side's torch work (checkpoints, evaluation); it
/// only waits on grain calls while no torch scope is open.
/// <para>
/// While the silo trains, no other thread of this process may hold an OpenMP team (the README's performance knobs):
/// the warm start runs on a thread that ends before the silo starts, the follower copies checkpoints with one torch
/// thread, and the final evaluation waits until the silo has stopped.
/// </para>
/// </summary>
internal static class EmbeddedGridTrainer
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// How long an interrupted run gives its silo to stop. Everything a resume needs is persisted as it is made, so a
    /// graceful hand-off gains nothing; waiting longer only lets the learner retry reporting to a stopped controller.
    /// </summary>
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(2);

    /// <param name="metrics">Where the embedded silo serves /metrics; null serves none.</param>
    public static TrainingResult Run(RunSettings settings, ITrainingObserver observer, GridTelemetryOptions? metrics,
        CancellationToken cancellation)
    {
        var total = Stopwatch.StartNew();
        var warm = WarmStart(settings, observer, restartIn: null, cancellation);
        return Grpo(settings, warm, observer, metrics, resuming: false, total, cancellation);
    }

    /// <summary>
    /// Continues an interrupted run in its own folder (<see cref="InterruptedRun"/>): the warm start again if it had not
    /// finished, else GRPO-D from the grid's persisted state, which the controller and learner reload as after a
    /// cluster restart (<c>grid resume</c>); with deterministic sampling the resumed steps equal an uninterrupted run's.
    /// </summary>
    public static TrainingResult Resume(InterruptedRun run, ITrainingObserver observer, GridTelemetryOptions? metrics,
        CancellationToken cancellation)
    {
        var total = Stopwatch.StartNew();
        var warm = run.WarmStart ?? WarmStart(run.Settings, observer, run.Folder, cancellation);
        return Grpo(run.Settings, warm, observer, metrics, resuming: run.GridStarted, total, cancellation);
    }

    private static TrainingResult WarmStart(RunSettings settings, ITrainingObserver observer, string? restartIn,
        CancellationToken cancellation)
    {
        var trainer = new InProcessTrainer(settings, observer);
        try
        {
            return TorchThread.Run(() => trainer.Run(grpo: false, cancellation, restartIn));
        }
        catch (OperationCanceledException error) when (cancellation.IsCancellationRequested && trainer.RunFolderPath is { } folder)
        {
            throw new RunStoppedException($"stopped during the warm start: kept {folder} (settings; the warm start keeps no "
                + $"checkpoints and runs again); resume with: {RunFollower.ResumeCommandFor(folder)}", error);
        }
        catch (Exception error) when (DiskSpace.IsFull(error) && error is not OutOfDiskException && trainer.RunFolderPath is { } folder)
        {
            throw new OutOfDiskException(folder, InProcessTrainer.CheckpointBytes(0), DiskSpace.Free(folder),
                RunFollower.ResumeCommandFor(folder), error);
        }
        catch (OutOfDiskException full) when (trainer.RunFolderPath is { } folder)
        {
            throw new OutOfDiskException(full.Path, full.BytesNeeded, full.BytesFree, RunFollower.ResumeCommandFor(folder), full);
        }
    }

    private static TrainingResult Grpo(RunSettings settings, TrainingResult warm, ITrainingObserver observer,
        GridTelemetryOptions? metrics, bool resuming, Stopwatch total, CancellationToken cancellation)
    {
        var folder = RunFolder.Open(warm.RunFolder);
        string runId = Path.GetFileName(folder.Path);
        var gridSettings = settings with { InitCheckpoint = warm.FinalCheckpoint };
        var host = EmbeddedGrid.Start(Path.Combine(folder.Path, "weights"), metrics,
            Path.Combine(folder.Path, EmbeddedGrid.StateFolder), Path.Combine(folder.Path, EmbeddedGrid.LogFile));
        bool stopped = false;
        try
        {
            var weights = host.Services.GetRequiredService<IWeightStore>();
            var controller = host.Services.GetRequiredService<IGrainFactory>().GetGrain<IControllerGrain>(runId);
            var status = resuming ? Wait(controller.Resume()) : Wait(controller.Start(new RunSpec(gridSettings, AllowCpuLearner: true)));
            if (resuming)
            {
                Console.WriteLine($"resuming {folder.Path} at step {status.StepsCompleted}/{status.TotalSteps} (policy version "
                    + $"{status.PolicyVersion}, {total.Elapsed.TotalSeconds:F1} s after start)");
            }

            try
            {
                return RunFollower.Follow(controller, weights, settings, warm, observer, PollInterval, "grid",
                    total.Elapsed.TotalSeconds, cancellation,
                    beforeEvaluation: () =>
                    {
                        stopped = true;
                        host.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
                    });
            }
            catch (OperationCanceledException error) when (cancellation.IsCancellationRequested && !stopped)
            {
                var kept = Wait(controller.GetStatus());
                string steps = kept.StepsCompleted switch { 0 => "no GRPO-D step yet", 1 => "step 0", var n => $"steps 0-{n - 1}" };
                throw new RunStoppedException($"stopped at step {kept.StepsCompleted}/{kept.TotalSteps}: kept {folder.Path} "
                    + $"({steps}, the learner's weights and optimizer state of version "
                    + $"{kept.PolicyVersion}, the KL controller); resume with: {RunFollower.ResumeCommandFor(folder.Path)}", error);
            }
            catch (Exception error) when (DiskSpace.IsFull(error) && error is not OutOfDiskException)
            {
                throw new OutOfDiskException(folder.Path, InProcessTrainer.CheckpointBytes(0), DiskSpace.Free(folder.Path),
                    RunFollower.ResumeCommandFor(folder.Path), error);
            }
        }
        finally
        {
            if (!stopped)
            {
                StopQuietly(host);
            }

            host.Dispose();
        }
    }

    /// <summary>Stops the silo within <see cref="StopTimeout"/>; what it says while stopping went to the run's log.</summary>
    private static void StopQuietly(IHost host)
    {
        using var limit = new CancellationTokenSource(StopTimeout);
        try
        {
            host.StopAsync(limit.Token).GetAwaiter().GetResult();
        }
        catch (Exception error) when (error is OperationCanceledException or ObjectDisposedException or InvalidOperationException
                                          or AggregateException)
        {
            // The process is leaving; the persisted state is what a resume needs, and it is written.
        }
    }

    private static T Wait<T>(Task<T> task) => task.GetAwaiter().GetResult();
}
