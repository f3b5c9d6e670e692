using System.CommandLine;
using Grid.Cli.Cluster;
using Grid.Contracts.Runs;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary>
/// <c>grid resume RUN</c>: wakes an interrupted run's controller, which reloads its persisted state (step, policy
/// version, betas, KL controller, step history) and re-drives the run from there. What it cannot restore yet is said in
/// its output: the learner's policy and optimizer live in the learner's memory, not in storage.
/// </summary>
internal static class ResumeCommand
{
    private static readonly TimeSpan Watch = TimeSpan.FromSeconds(10);

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
            // Activating the controller is what resumes it: a Running run re-drives itself from its persisted state.
            var before = await controller.GetStatus();
            int exit = 0;
            if (before.State == RunState.NotStarted)
            {
                AnsiConsole.MarkupLineInterpolated($"[yellow]run {runId} is not known to cluster {clientOptions.ClusterId}[/]");
                exit = 1;
            }
            else if (before.State != RunState.Running)
            {
                AnsiConsole.WriteLine($"run {runId} is {before.State}; nothing to resume.");
            }
            else
            {
                AnsiConsole.WriteLine($"run {runId} resumed at step {before.StepsCompleted}/{before.TotalSteps}, policy version "
                    + $"{before.PolicyVersion}; watching for {Watch.TotalSeconds:F0} s");
                var after = before;
                var clock = System.Diagnostics.Stopwatch.StartNew();
                while (clock.Elapsed < Watch && after.StepsCompleted == before.StepsCompleted && after.State == RunState.Running)
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), cancellation);
                    after = await controller.GetStatus();
                }

                StatusCommand.Print(after, await controller.GetStepReports(Math.Max(0, after.StepsCompleted - 3)),
                    await StatusCommand.LearnerPlacementAsync(host.Grains(), runId), 3);
                if (after.StepsCompleted == before.StepsCompleted && after.State == RunState.Running)
                {
                    AnsiConsole.MarkupLine("[yellow]no step completed yet.[/] Known limit: after a full cluster restart the "
                        + "learner's policy and optimizer state are gone (they live in the learner's memory, not in storage), "
                        + "so a run whose learner was lost does not continue yet; the controller's state (step, beta, "
                        + "weights reference, history) is intact.");
                }
            }

            await host.StopAsync(CancellationToken.None);
            return exit;
        });
        return command;
    }
}
