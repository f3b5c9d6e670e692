using System.CommandLine;
using Grid.Cli.Cluster;
using Grid.Contracts.Runs;
using Grid.Hosting.Weights;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary>
/// <c>grid resume RUN</c>: asks an interrupted run's controller (reloaded from its persisted state) to set its learner
/// up again from the recorded version's checkpoint (weights and optimizer state) and re-drive the current step. It
/// prints what it resumed from: step, policy version, the weights' and optimizer state's sha256, and any checkpoint
/// the learner refused (a damaged one: the run then continues from the previous good checkpoint).
/// </summary>
internal static class ResumeCommand
{
    private static readonly TimeSpan Watch = TimeSpan.FromSeconds(30);

    public static Command Create()
    {
        var client = new ClientOptions();
        var run = new Argument<string>("run")
        {
            Description = "The run id grid submit printed, or the run folder of an interrupted grid train (as grid train --resume).",
        };
        var command = new Command("resume",
            "Continue an interrupted run: on a cluster from the controller's persisted state, or grid train's run folder.");
        command.Arguments.Add(run);
        client.AddTo(command);
        command.SetAction(async (parse, cancellation) =>
        {
            string runId = RunIds.Require(parse.GetValue(run));
            if (Directory.Exists(runId) && Grid.Training.Runs.RunFolderReport.IsRunFolder(runId))
            {
                // A run folder: grid train's embedded run, resumed in this process as grid train --resume does.
                return TrainCommand.ResumeEmbedded(runId, metricsOptions: null, cancellation);
            }

            var (configuration, clientOptions) = client.Load(parse);
            RunIds.RefuseFolder(runId, "resume", " (a folder without settings.json is no run folder; resume takes a run id or a run folder)");
            using var host = await ClusterClient.ConnectAsync(clientOptions, cancellation);
            var controller = host.Grains().GetGrain<IControllerGrain>(runId);
            var before = await controller.GetStatus();
            int exit = 0;
            if (before.State == RunState.NotStarted)
            {
                AnsiConsole.MarkupLineInterpolated($"[yellow]run {runId} is not known to cluster {clientOptions.ClusterId}[/]");
                exit = 1;
            }
            else if (before.State != RunState.Running)
            {
                Console.WriteLine($"run {runId} is {before.State}; nothing to resume.");
            }
            else
            {
                try
                {
                    before = await controller.Resume();
                }
                catch (TimeoutException)
                {
                    // Setting the learner up (loading the checkpoint) outlasted the response timeout on a busy cluster;
                    // the call goes on there, so follow the run instead of failing.
                    Console.WriteLine("The controller is still setting the learner up (over 30 s); following the run.");
                    before = await controller.GetStatus();
                }

                var checkpoint = await ReadCheckpointAsync(configuration, runId, before.PolicyVersion, cancellation);
                Console.WriteLine($"run {runId} resumed at step {before.StepsCompleted}/{before.TotalSteps} from policy "
                    + $"version {before.PolicyVersion} (weights sha256 {before.Weights?.Sha256[..12]}…, {checkpoint}).");
                Console.WriteLine("Restored from storage: step, policy weights, optimizer state, reference weights, betas "
                    + "and KL controller, step history, the current step's finished prompt groups.");
                if (before.LastError is { } refused)
                {
                    AnsiConsole.MarkupLineInterpolated($"[yellow]{refused}[/]");
                }

                var after = before;
                var clock = System.Diagnostics.Stopwatch.StartNew();
                while (clock.Elapsed < Watch && after.StepsCompleted == before.StepsCompleted && after.State == RunState.Running)
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), cancellation);
                    after = await controller.GetStatus();
                }

                StatusCommand.Print(after, await controller.GetStepReports(Math.Max(0, after.StepsCompleted - 3)),
                    await StatusCommand.LearnerPlacementAsync(host.Grains(), runId), 3);
                Console.WriteLine(after.StepsCompleted > before.StepsCompleted || after.State == RunState.Completed
                    ? $"run {runId} is moving again: follow it with grid status {runId}"
                    : $"no step completed within {Watch.TotalSeconds:F0} s; check grid status {runId} (last error) and the silos' logs");
            }

            await host.StopAsync(CancellationToken.None);
            return exit;
        });
        return command;
    }

    /// <summary>The optimizer-state half of the resumed version's checkpoint, in words, read from the weight store.</summary>
    private static async Task<string> ReadCheckpointAsync(Microsoft.Extensions.Configuration.IConfiguration configuration,
        string runId, long version, CancellationToken cancellation)
    {
        if (version == 0)
        {
            return "a fresh optimizer, as at version 0";
        }

        try
        {
            var store = new LearnerCheckpointStore(ClusterClient.WeightStore(ClusterConfiguration.BindSilo(configuration)));
            var checkpoint = await store.ReadAsync(runId, version, cancellation);
            return checkpoint?.Optimizer is { } optimizer
                ? $"optimizer state sha256 {optimizer.Sha256[..12]}… ({checkpoint.OptimizerBytes} bytes)"
                : "no optimizer checkpoint for this version: AdamW restarted from zero";
        }
        catch (Exception error) when (error is InvalidDataException or WeightStoreUnavailableException or IOException)
        {
            return $"optimizer checkpoint unreadable from here: {error.Message}";
        }
    }
}
