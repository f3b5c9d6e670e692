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
/// loop (metrics.jsonl from the step reports, checkpoints from the published weights, eval-final.json). Runs on the
/// caller's thread, which owns this side's torch work (checkpoints, evaluation); it only waits on grain calls while
/// no torch scope is open.
/// <para>
/// While the silo trains, no other thread of this process may hold an OpenMP team (the README's performance knobs):
/// the warm start runs on a thread that ends before the silo starts, the follower copies checkpoints with one torch
/// thread, and the final evaluation waits until the silo has stopped.
/// </para>
/// </summary>
internal static class EmbeddedGridTrainer
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <param name="metrics">Where the embedded silo serves /metrics; null serves none.</param>
    public static TrainingResult Run(RunSettings settings, ITrainingObserver observer, GridTelemetryOptions? metrics,
        CancellationToken cancellation)
    {
        var total = Stopwatch.StartNew();
        var warm = TorchThread.Run(() => new InProcessTrainer(settings, observer).Run(grpo: false, cancellation));
        var folder = RunFolder.Open(warm.RunFolder);
        string runId = Path.GetFileName(folder.Path);
        var gridSettings = settings with { InitCheckpoint = warm.FinalCheckpoint };
        using var host = EmbeddedGrid.Start(Path.Combine(folder.Path, "weights"), metrics);
        var weights = host.Services.GetRequiredService<IWeightStore>();
        var controller = host.Services.GetRequiredService<IGrainFactory>().GetGrain<IControllerGrain>(runId);
        Wait(controller.Start(new RunSpec(gridSettings, AllowCpuLearner: true)));
        // The host's console lifetime takes SIGTERM/SIGINT for itself and stops the application; treat that like the
        // command's own cancellation so `kill` and Ctrl+C end the run.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation,
            host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);
        return RunFollower.Follow(controller, weights, settings, warm, observer, PollInterval, "grid",
            total.Elapsed.TotalSeconds, stop.Token,
            beforeEvaluation: () => host.StopAsync(CancellationToken.None).GetAwaiter().GetResult());
    }

    private static T Wait<T>(Task<T> task) => task.GetAwaiter().GetResult();
}
