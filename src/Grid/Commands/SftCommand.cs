using System.CommandLine;
using Grid.Core.Settings;
using Grid.Training;
using Grid.Training.Runs;

namespace Grid.Cli.Commands;

/// <summary><c>grid sft</c>: only the supervised warm start; its checkpoint seeds later <c>grid train</c> runs.</summary>
internal static class SftCommand
{
    public static Command Create()
    {
        var options = new SettingsOptions();
        var command = new Command("sft", "Warm-start a policy on the tasks' reference traces and evaluate it.");
        options.Set.Description = "Override one setting, e.g. --set sft.steps=200 --set sft.batch_size=32 (applied last).";
        options.Seed.Description = "Run seed: initial weights, demonstrations and batch order.";
        options.Output.Description = "Folder for the run folder (default runs); the checkpoint is its checkpoints/sft.";
        var resume = new Option<string?>("--resume")
        {
            Description = "Finish an interrupted warm start in its run folder, with the settings it was started with (the warm "
                + "start keeps no checkpoints of its own: it runs again there, to the same result).",
            HelpName = "RUN_FOLDER",
        };
        options.AddWarmStartTo(command);
        options.AddDryRunTo(command);
        command.Options.Add(resume);
        command.SetAction((parse, cancellation) =>
        {
            string? restartIn = null;
            RunSettings settings;
            if (parse.GetValue(resume) is { } folder)
            {
                if (command.Options.FirstOrDefault(o => o != resume && parse.GetResult(o) is { Implicit: false }) is { } extra)
                {
                    throw new InvalidSettingException(extra.Name, parse.GetResult(extra)!.Tokens.FirstOrDefault()?.Value,
                        "left out with --resume: the warm start goes on with the settings in its settings.json");
                }

                if (!RunFolderReport.IsRunFolder(folder) || folder.Any(char.IsControl))
                {
                    throw new InvalidSettingException("resume", folder, "a run folder of grid sft (it holds settings.json)");
                }

                restartIn = Path.GetFullPath(folder);
                settings = RunFolderReport.ReadJson<RunSettings>(restartIn, RunFolderReport.SettingsFile)!;
                if (RunFolderReport.ReadJson<TrainingResult>(restartIn, "summary.json") is { } done)
                {
                    Console.WriteLine($"{restartIn} has finished its warm start; nothing to resume.");
                    ConsoleWidth.Copyable($"checkpoint: {done.FinalCheckpoint}");
                    return Task.FromResult(0);
                }
            }
            else
            {
                settings = options.Load(parse);
            }

            if (options.IsDryRun(parse, settings))
            {
                return Task.FromResult(0);
            }

            InProcessTrainer? trainer = null;
            TrainingResult result;
            try
            {
                result = TorchThread.Run(() => ConsoleProgress.Run(observer =>
                    (trainer = new InProcessTrainer(settings, observer)).Run(grpo: false, cancellation, restartIn)));
            }
            catch (OperationCanceledException stop) when (cancellation.IsCancellationRequested && trainer?.RunFolderPath is { } kept)
            {
                throw new Runs.RunStoppedException($"stopped during the warm start: kept {kept} (its settings; the warm start "
                    + $"runs again on resume); resume with: grid sft --resume {kept}", stop);
            }

            ConsoleWidth.Copyable($"checkpoint: {result.FinalCheckpoint}");
            ConsoleWidth.Copyable($"use it with: grid train --set init_checkpoint={result.FinalCheckpoint}");
            return Task.FromResult(0);
        });
        return command;
    }
}
