using System.CommandLine;
using Grid.Cli.Cluster;
using Grid.Contracts.Runs;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary>
/// <c>grid resume RUN</c>: asks an interrupted run's controller (reloaded from its persisted state) to set its learner
/// up again from the recorded weights and re-drive the current step. What it cannot restore is said in its output:
/// the optimizer's moments lived only in the lost learner's memory.
/// </summary>
internal static class ResumeCommand
{
    private static readonly TimeSpan Watch = TimeSpan.FromSeconds(30);

    public static Command Create()
    {
        var client = new ClientOptions();
        var run = new Argument<string>("run") { Description = "The run id grid submit printed." };
        var command = new Command("resume", "Continue an interrupted run from the controller's persisted state.");
        command.Arguments.Add(run);
        client.AddTo(command);
        command.SetAction(async (parse, cancellation) =>
        {
            var (_, clientOptions) = client.Load(parse);
            string runId = parse.GetValue(run)!;
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
                before = await controller.Resume();
                Console.WriteLine($"run {runId} resumed at step {before.StepsCompleted}/{before.TotalSteps} from policy "
                    + $"version {before.PolicyVersion}. Restored from storage: step, policy weights, reference weights, "
                    + "betas and KL controller, step history, the current step's finished prompt groups. Not restored: the "
                    + "optimizer's moments (AdamW restarts from zero if the learner was lost).");
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
}
