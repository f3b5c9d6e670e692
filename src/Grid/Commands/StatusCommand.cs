using System.CommandLine;
using System.Globalization;
using Grid.Cli.Cluster;
using Grid.Contracts.Learning;
using Grid.Contracts.Runs;
using Grid.Core;
using Grid.Hosting.Configuration;
using Grid.Hosting.Placement;
using Grid.Training.Metrics;
using Grid.Training.Runs;
using Microsoft.Extensions.Hosting;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary>
/// <c>grid status RUN</c>: a run's state on the cluster as tables: the run (state, steps, beta, learner placement),
/// the cluster's silos, and one row per recorded step (beta, reward, accuracy, KL, retries, failed groups, skipped
/// update). When RUN is a run folder on disk, the same kind of tables from its files, without a cluster. A value that
/// is NaN or infinite prints as <see cref="NonFinite.Text"/>.
/// </summary>
internal static class StatusCommand
{
    /// <summary>
    /// How long status tries to reach the cluster: a question about a running cluster needs no patience for silos that
    /// are still starting (submit and resume wait <see cref="ClusterClient.ConnectTimeout"/>).
    /// </summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    public static Command Create()
    {
        var client = new ClientOptions();
        var run = new Argument<string>("run")
        {
            Description = "The run id grid submit printed, or a run folder (holding settings.json) to read without a cluster.",
        };
        var last = new Option<int>("--last") { Description = "Steps to show (newest last).", DefaultValueFactory = _ => 20 };
        var command = new Command("status",
            "Show a run's state on the cluster: steps, beta, reward, accuracy, silos, learner placement, retries; "
            + "or a run folder's steps and evaluations.");
        command.Arguments.Add(run);
        command.Options.Add(last);
        client.AddTo(command);
        command.SetAction(async (parse, cancellation) =>
        {
            string runId = RunIds.Require(parse.GetValue(run));
            if (RunFolderReport.IsRunFolder(runId))
            {
                PrintFolder(RunFolderReport.Read(runId), Math.Max(1, parse.GetValue(last)));
                return 0;
            }

            if (runId.IndexOfAny(['/', Path.DirectorySeparatorChar]) >= 0 && Directory.Exists(runId))
            {
                throw new DirectoryNotFoundException(
                    $"'{runId}' is a folder but not a run folder: it has no {RunFolderReport.SettingsFile} (grid train, grid sft "
                    + "and grid experiment write one in each run folder, e.g. runs/<name>-<utc time>).");
            }

            var (_, clientOptions) = client.Load(parse);
            IHost host;
            try
            {
                host = await ClusterClient.ConnectAsync(clientOptions, cancellation, ConnectTimeout);
            }
            catch (GridConfigurationException e)
            {
                throw new GridConfigurationException(
                    $"'{runId}' is not a run folder on this machine, and as a run id: {e.Message}");
            }

            using var connection = host;
            var grains = host.Grains();
            var controller = grains.GetGrain<IControllerGrain>(runId);
            var status = await controller.GetStatus();
            if (status.State == RunState.NotStarted)
            {
                AnsiConsole.MarkupLineInterpolated($"[yellow]run {runId} is not known to cluster {clientOptions.ClusterId}[/]");
                await host.StopAsync(CancellationToken.None);
                return 1;
            }

            int shown = Math.Clamp(parse.GetValue(last), 1, 1000);
            var reports = await controller.GetStepReports(Math.Max(0, status.StepsCompleted - shown));
            string learner = await LearnerPlacementAsync(grains, runId);
            var silos = await grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: true);
            Print(status, reports, learner, reports.Length);
            PrintSilos(silos, learner);
            await host.StopAsync(CancellationToken.None);
            return 0;
        });
        return command;
    }

    /// <summary>
    /// A run folder read from disk, no cluster needed: the run (name, task, how it trains, steps, wall time), its last
    /// <paramref name="last"/> GRPO steps (beta, reward, accuracy, KL, tokens, skipped updates) or, for a run that only
    /// did SFT (or is still in its warm start), its SFT losses, and its start and final evaluations.
    /// </summary>
    internal static void PrintFolder(RunFolderReport report, int last)
    {
        var s = report.Settings;
        // A run that has GRPO steps is a GRPO run; one with only SFT losses did (or is doing) SFT; a finished one with
        // neither only evaluated its start.
        string G(double value) => value.ToString("G4", CultureInfo.InvariantCulture);
        var (training, progress) = report switch
        {
            { Steps.Count: > 0 } or { SftSteps.Count: 0, Summary: null } => ("GRPO, kl " + s.Kl.Kind switch
            {
                KlKind.Fixed => $"fixed beta {G(s.Kl.Beta)}",
                KlKind.Dynamic => $"dynamic {G(s.Kl.BetaMin)} to {G(s.Kl.BetaMax)}",
                _ => $"{SettingNames<KlKind>.Name(s.Kl.Kind)} from {G(s.Kl.Beta)}",
            } + (s.Rollouts.MaxStaleness > 0 ? $", async (max staleness {s.Rollouts.MaxStaleness})" : ""),
                $"{report.Steps.Count}/{s.Steps}"),
            { SftSteps.Count: > 0 } => ($"SFT, batch {s.Sft.BatchSize}, lr {G(s.Sft.LearningRate)}",
                $"{report.SftSteps.Count}/{s.Sft.Steps}"),
            _ => ("evaluation only", "-"),
        };
        string checkpoint = report.Summary?.FinalCheckpoint is { } final
            ? Path.GetRelativePath(report.Path, final)
            : "-";
        var summary = new Table().AddColumns("run", "state", "task", "training", "steps", "tokens generated", "wall time",
            "final checkpoint");
        summary.AddRow(Markup.Escape(Path.GetFileName(report.Path)), Markup.Escape(State(report, DateTimeOffset.UtcNow)),
            Markup.Escape(s.Task), Markup.Escape(training), progress,
            report.TokensGenerated.ToString(CultureInfo.InvariantCulture),
            report.Summary is { } done ? $"{done.SecondsTotal.ToString("F0", CultureInfo.InvariantCulture)} s" : "-",
            Markup.Escape(checkpoint));
        AnsiConsole.Write(summary);

        if (report.Steps.Count > 0)
        {
            var steps = new Table().AddColumns("step", "policy version", "beta", "reward", "accuracy", "format", "kl",
                "tokens", "skipped", "seconds");
            foreach (var m in report.Steps.TakeLast(last))
            {
                steps.AddRow(m.Step.ToString(CultureInfo.InvariantCulture), m.PolicyVersion.ToString(CultureInfo.InvariantCulture),
                    NonFinite.Format(m.Beta, "G4"), NonFinite.Format(m.RewardMean, "F3"), NonFinite.Format(m.Accuracy, "P1"),
                    NonFinite.Format(m.FormatRate, "P1"), NonFinite.Format(m.KlMean, "G3"),
                    m.TokensGenerated.ToString(CultureInfo.InvariantCulture),
                    m.UpdateSkipped ? Markup.Escape(m.SkipReason ?? "yes") : "-", NonFinite.Format(m.SecondsTotal, "F2"));
            }

            AnsiConsole.Write(steps);
        }
        else if (report.SftSteps.Count > 0)
        {
            var sft = new Table().AddColumns("sft step", "loss");
            foreach (var line in report.SftSteps.TakeLast(last))
            {
                sft.AddRow(line.Step.ToString(CultureInfo.InvariantCulture), NonFinite.Format(line.Loss, "F4"));
            }

            AnsiConsole.Write(sft);
        }

        var evaluations = new Table().AddColumns("evaluation", "task", "prompts", "accuracy", "format rate");
        foreach (var eval in new[] { report.Start, report.Final }.OfType<EvalReport>())
        {
            foreach (var t in eval.Tasks)
            {
                evaluations.AddRow(Markup.Escape(eval.Label), Markup.Escape(t.Task == eval.TrainedTask ? $"{t.Task} (trained)" : t.Task),
                    t.Prompts.ToString(CultureInfo.InvariantCulture), NonFinite.Format(t.Accuracy, "P1"),
                    NonFinite.Format(t.FormatRate, "P1"));
            }
        }

        if (evaluations.Rows.Count > 0)
        {
            AnsiConsole.Write(evaluations);
        }
    }

    /// <summary>
    /// "finished" once summary.json is written (the run's last act); otherwise how long ago the run last wrote a line,
    /// since a folder cannot tell a running process from a stopped one.
    /// </summary>
    internal static string State(RunFolderReport report, DateTimeOffset now)
    {
        if (report.Summary is not null)
        {
            return "finished";
        }

        var written = report.LastWrite;
        double minutes = Math.Max(0, (now - written).TotalMinutes);
        string ago = minutes < 1 ? "under a minute" : minutes < 120 ? $"{minutes:F0} min" : $"{minutes / 60:F0} h";
        return $"not finished (running or stopped; last written {ago} ago)";
    }

    /// <summary>
    /// The silo and device ("gpu" or "cpu") of the run's learner, asked without activating one (it may not exist).
    /// </summary>
    internal static async Task<string> LearnerPlacementAsync(IClusterClient grains, string runId)
    {
        var management = grains.GetGrain<IManagementGrain>(0);
        foreach (bool allowCpu in new[] { false, true })
        {
            var learner = grains.GetGrain<ILearnerGrain>(LearnerKey.Create(runId, allowCpu));
            if (await management.GetActivationAddress(learner) is { } silo)
            {
                // Active, so asking it activates nothing.
                var status = await learner.GetStatus();
                return status.Device is { } device ? $"{silo} ({device})" : silo.ToString();
            }
        }

        return "not active";
    }

    internal static void Print(RunStatus status, StepReport[] reports, string learner, int last)
    {
        var summary = new Table().AddColumns("run", "state", "steps", "policy version", "beta (next)", "learner", "last error");
        double? nextBeta = status.Beta;
        summary.AddRow(Markup.Escape(status.RunId), status.State.ToString(),
            $"{status.StepsCompleted}/{status.TotalSteps}", status.PolicyVersion.ToString(CultureInfo.InvariantCulture),
            nextBeta?.ToString("G4", CultureInfo.InvariantCulture) ?? "-", Markup.Escape(learner),
            Markup.Escape(status.LastError ?? "-"));
        AnsiConsole.Write(summary);

        var steps = new Table().AddColumns("step", "policy version", "beta", "reward", "accuracy", "kl", "retries",
            "failed groups", "skipped", "seconds");
        foreach (var r in reports.TakeLast(Math.Max(1, last)))
        {
            steps.AddRow(r.Step.ToString(CultureInfo.InvariantCulture), r.PolicyVersion.ToString(CultureInfo.InvariantCulture),
                NonFinite.Format(r.Beta, "G4"), NonFinite.Format(r.RewardMean, "F3"), NonFinite.Format(r.Accuracy, "P1"),
                NonFinite.Format(r.KlMean, "G3"), r.RetriedAttempts.ToString(CultureInfo.InvariantCulture),
                r.FailedGroups.ToString(CultureInfo.InvariantCulture), r.UpdateSkipped ? Markup.Escape(r.SkipReason ?? "yes") : "-",
                NonFinite.Format(r.SecondsTotal, "F2"));
        }

        AnsiConsole.Write(steps);
    }

    /// <summary>The cluster's active silos; the learner's is marked.</summary>
    private static void PrintSilos(MembershipEntry[] silos, string learner)
    {
        var table = new Table().AddColumns("silo", "name", "status", "since", "hosts");
        foreach (var silo in silos.OrderBy(s => s.StartTime))
        {
            string address = silo.SiloAddress.ToString();
            table.AddRow(Markup.Escape(address), Markup.Escape(silo.SiloName ?? "-"), silo.Status.ToString(),
                silo.StartTime.ToString("u", CultureInfo.InvariantCulture),
                learner.StartsWith(address, StringComparison.Ordinal) ? "learner" : "-");
        }

        table.Caption($"{silos.Length} active silo(s)");
        AnsiConsole.Write(table);
    }
}
