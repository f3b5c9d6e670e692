using System.CommandLine;
using Grid.Cli.Embedded;
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
        var inProcess = new Option<bool>("--in-process")
        {
            Description = "Run GRPO-D in a plain loop in this thread instead of on the embedded grid (the baseline).",
        };
        var command = new Command("train",
            "Warm-start with SFT, then train with GRPO-D on an embedded grid (one silo in this process).");
        options.AddTo(command);
        command.Options.Add(inProcess);
        command.SetAction((parse, cancellation) =>
        {
            var settings = options.Load(parse);
            bool baseline = parse.GetValue(inProcess);
            var result = TorchThread.Run(() => ConsoleProgress.Run(observer => baseline
                ? new InProcessTrainer(settings, observer).Run(grpo: true, cancellation)
                : EmbeddedGridTrainer.Run(settings, observer, cancellation)));
            Report(result);
            return Task.FromResult(0);
        });
        return command;
    }

    private static void Report(TrainingResult r)
    {
        AnsiConsole.MarkupLineInterpolated($"run folder: [bold]{r.RunFolder}[/]");
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
