using System.CommandLine;
using Grid.Cli.Cluster;
using Grid.Cli.Embedded;
using Grid.Hosting.Configuration;
using Grid.Telemetry;
using Grid.Telemetry.Reports;
using Grid.Training;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary>
/// <c>grid train</c>: SFT warm start (unless --set init_checkpoint=...), GRPO-D on the embedded grid (or in-process
/// with --in-process), final evaluation.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var options = new SettingsOptions();
        var metrics = new MetricsOptions();
        var inProcess = new Option<bool>("--in-process")
        {
            Description = "Run GRPO-D in a plain loop in this thread instead of on the embedded grid (the baseline).",
        };
        var resume = new Option<string?>("--resume")
        {
            Description = "Continue an interrupted run (killed, stopped with Ctrl+C, out of disk) from its run folder, with "
                + "the settings it was started with.",
            HelpName = "RUN_FOLDER",
        };
        var command = new Command("train",
            "Warm-start with SFT, then train with GRPO-D on an embedded grid (one silo in this process).");
        options.AddTo(command);
        options.AddDryRunTo(command);
        command.Options.Add(inProcess);
        command.Options.Add(resume);
        metrics.AddTo(command);
        command.SetAction(async (parse, cancellation) =>
        {
            var metricsOptions = metrics.Load(parse, ClusterConfiguration.Build(null, new Dictionary<string, string?>()));
            if (parse.GetValue(resume) is { } folder)
            {
                var given = command.Options.Where(o => o != resume && o.Name.StartsWith("--", StringComparison.Ordinal)
                    && !o.Name.StartsWith("--metrics", StringComparison.Ordinal) && parse.GetResult(o) is { Implicit: false })
                    .Select(o => o.Name).ToArray();
                if (given.Length > 0)
                {
                    throw new Grid.Core.Settings.InvalidSettingException(given[0], string.Join(" ", given),
                        "left out with --resume: the run goes on with the settings in its settings.json");
                }

                return ResumeEmbedded(folder, metricsOptions, cancellation);
            }

            var settings = options.Load(parse);
            bool baseline = parse.GetValue(inProcess);
            if (options.IsDryRun(parse, settings))
            {
                return 0;
            }

            await using var server = baseline ? await StartMetricsAsync(metricsOptions, cancellation) : null;
            if (!baseline && metricsOptions is not null)
            {
                // The embedded silo serves them (Grid and Orleans meters, like any silo) once GRPO-D starts; a taken
                // port must fail now, not after the warm start.
                RequireFreePort(metricsOptions);
                Console.WriteLine($"metrics: {metricsOptions.ScrapeUrl} (from the embedded grid's start, after the warm start)");
            }

            var gridMetrics = server?.Metrics;
            var result = TorchThread.Run(() => ConsoleProgress.Run(observer => baseline
                ? new InProcessTrainer(settings, gridMetrics is null ? observer
                    : new MetricsTrainingObserver(gridMetrics, settings.Name, observer)).Run(grpo: true, cancellation)
                : EmbeddedGridTrainer.Run(settings, observer, metricsOptions, cancellation)));
            Report(result);
            return 0;
        });
        return command;
    }

    /// <summary>
    /// Continues an interrupted run of the embedded grid from its folder (<c>grid train --resume</c>, <c>grid resume
    /// FOLDER</c>); returns the exit code.
    /// </summary>
    public static int ResumeEmbedded(string folder, GridTelemetryOptions? metricsOptions, CancellationToken cancellation)
    {
        var run = InterruptedRun.Read(folder);
        if (run.Finished)
        {
            Console.WriteLine($"{run.Folder} has finished all {run.Settings.Steps} steps; nothing to resume (grid status {run.Folder}).");
            return 0;
        }

        if (metricsOptions is not null)
        {
            RequireFreePort(metricsOptions);
        }

        Console.WriteLine($"resume {run.Folder}: {run.Describe()}");
        var result = TorchThread.Run(() => ConsoleProgress.Run(observer =>
            EmbeddedGridTrainer.Resume(run, observer, metricsOptions, cancellation)));
        Report(result);
        return 0;
    }

    /// <summary>
    /// The in-process loop's /metrics for Prometheus, served for the whole command; its steps carry the run name (the
    /// run id, the folder's name, does not exist before the loop starts). Null when the port is 0.
    /// </summary>
    private static async Task<GridMetricsServer?> StartMetricsAsync(GridTelemetryOptions? options, CancellationToken cancellation)
    {
        if (options is null)
        {
            return null;
        }

        GridMetricsServer server;
        try
        {
            server = await GridMetricsServer.StartAsync(options, cancellation);
        }
        catch (InvalidOperationException e)
        {
            throw new GridConfigurationException(e.Message + " Flag --metrics-port, key Grid:Metrics:Port.");
        }

        // Printed before the progress display starts, so it stays on screen.
        Console.WriteLine($"metrics: {server.Endpoint}");
        return server;
    }

    private static void RequireFreePort(GridTelemetryOptions options)
    {
        try
        {
            var listener = new System.Net.Sockets.TcpListener(options.ParsedListenAddress, options.Port);
            listener.Start();
            listener.Stop();
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new GridConfigurationException(
                $"Cannot serve metrics on {options.ListenAddress}:{options.Port} ({e.Message}); give another port with " +
                "--metrics-port (key Grid:Metrics:Port), or 0 for no metrics server.");
        }
    }

    private static void Report(TrainingResult r)
    {
        ConsoleWidth.Copyable($"run folder: {r.RunFolder}");
        if (File.Exists(Path.Combine(r.RunFolder, "metrics.jsonl")))
        {
            var plots = RunPlots.Write(r.RunFolder);
            ConsoleWidth.Copyable(
                $"plots: {Path.Combine(r.RunFolder, RunPlots.Folder)} ({string.Join(", ", plots.Select(Path.GetFileName))})");
        }

        foreach (var task in r.Final.Tasks)
        {
            double before = r.AfterSft.For(task.Task).Accuracy;
            AnsiConsole.MarkupLineInterpolated(
                $"{task.Task,-10} accuracy {before:P1} -> {task.Accuracy:P1} ({(task.Accuracy - before) * 100:+0.0;-0.0} points)");
        }

        AnsiConsole.MarkupLineInterpolated(
            $"wall time {r.SecondsTotal:F0} s (sft {r.SecondsSft:F0} s, grpo {r.SecondsGrpo:F0} s); skipped updates: {r.UpdatesSkipped}; peak RSS {r.PeakRssBytes / 1e6:F0} MB");
    }
}
