using System.CommandLine;
using System.Globalization;
using Grid.Cli.Cluster;
using Grid.Contracts.Learning;
using Grid.Contracts.Runs;
using Grid.Hosting.Placement;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary><c>grid status RUN</c>: a run's state on the cluster, one row per recorded step.</summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var client = new ClientOptions();
        var run = new Argument<string>("run") { Description = "The run id grid submit printed." };
        var last = new Option<int>("--last") { Description = "Steps to show (newest last).", DefaultValueFactory = _ => 20 };
        var command = new Command("status", "Show a run's state on the cluster: steps, policy version, beta, reward, accuracy.");
        command.Arguments.Add(run);
        command.Options.Add(last);
        client.AddTo(command);
        command.SetAction(async (parse, cancellation) =>
        {
            var (_, clientOptions) = client.Load(parse);
            string runId = parse.GetValue(run)!;
            using var host = await ClusterClient.ConnectAsync(clientOptions, cancellation);
            var grains = host.Grains();
            var controller = grains.GetGrain<IControllerGrain>(runId);
            var status = await controller.GetStatus();
            if (status.State == RunState.NotStarted)
            {
                AnsiConsole.MarkupLineInterpolated($"[yellow]run {runId} is not known to cluster {clientOptions.ClusterId}[/]");
                await host.StopAsync(CancellationToken.None);
                return 1;
            }

            var reports = await controller.GetStepReports(0);
            string learner = await LearnerPlacementAsync(grains, runId);
            Print(status, reports, learner, parse.GetValue(last));
            await host.StopAsync(CancellationToken.None);
            return 0;
        });
        return command;
    }

    /// <summary>The silo hosting the run's learner, asked without activating one (it may not exist).</summary>
    internal static async Task<string> LearnerPlacementAsync(IClusterClient grains, string runId)
    {
        var management = grains.GetGrain<IManagementGrain>(0);
        foreach (bool allowCpu in new[] { false, true })
        {
            var learner = grains.GetGrain<ILearnerGrain>(LearnerKey.Create(runId, allowCpu));
            if (await management.GetActivationAddress(learner) is { } silo)
            {
                return silo.ToString();
            }
        }

        return "not active";
    }

    internal static void Print(RunStatus status, StepReport[] reports, string learner, int last)
    {
        var summary = new Table().AddColumns("run", "state", "steps", "policy version", "beta (next)", "learner", "last error");
        double? nextBeta = status.Betas.Length > 0 ? status.Betas[^1] : null;
        summary.AddRow(Markup.Escape(status.RunId), status.State.ToString(),
            $"{status.StepsCompleted}/{status.TotalSteps}", status.PolicyVersion.ToString(CultureInfo.InvariantCulture),
            nextBeta?.ToString("G4", CultureInfo.InvariantCulture) ?? "-", Markup.Escape(learner),
            Markup.Escape(status.LastError ?? "-"));
        AnsiConsole.Write(summary);

        var steps = new Table().AddColumns("step", "policy version", "beta", "reward", "accuracy", "kl", "failed groups", "seconds");
        foreach (var r in reports.TakeLast(Math.Max(1, last)))
        {
            steps.AddRow(r.Step.ToString(CultureInfo.InvariantCulture), r.PolicyVersion.ToString(CultureInfo.InvariantCulture),
                r.Beta.ToString("G4", CultureInfo.InvariantCulture), r.RewardMean.ToString("F3", CultureInfo.InvariantCulture),
                r.Accuracy.ToString("P1", CultureInfo.InvariantCulture), r.KlMean.ToString("G3", CultureInfo.InvariantCulture),
                r.FailedGroups.ToString(CultureInfo.InvariantCulture), r.SecondsTotal.ToString("F2", CultureInfo.InvariantCulture));
        }

        AnsiConsole.Write(steps);
    }
}
