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
        options.AddTo(command);
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
