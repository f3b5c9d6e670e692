using System.CommandLine;
using Grid.Training;

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
        options.AddWarmStartTo(command);
        options.AddDryRunTo(command);
        command.SetAction((parse, cancellation) =>
        {
            var settings = options.Load(parse);
            if (options.IsDryRun(parse, settings))
            {
                return Task.FromResult(0);
            }

            var result = TorchThread.Run(() =>
                ConsoleProgress.Run(observer => new InProcessTrainer(settings, observer).Run(grpo: false, cancellation)));
            ConsoleWidth.Copyable($"checkpoint: {result.FinalCheckpoint}");
            ConsoleWidth.Copyable($"use it with: grid train --set init_checkpoint={result.FinalCheckpoint}");
            return Task.FromResult(0);
        });
        return command;
    }
}
