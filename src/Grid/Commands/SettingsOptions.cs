using System.CommandLine;
using Grid.Training.Settings;

namespace Grid.Cli.Commands;

/// <summary>The options every run-shaped command shares: a preset, a settings file, and key=value overrides.</summary>
internal sealed class SettingsOptions
{
    public Option<string> Preset { get; } = new("--preset")
    {
        Description = $"Starting settings: {string.Join(", ", RunSettingsLoader.Presets.Keys)}.",
        DefaultValueFactory = _ => "demo",
    };

    public Option<FileInfo?> Config { get; } = new("--config", "-c")
    {
        Description = "JSON settings file (snake_case keys, any subset); applied over the preset.",
    };

    public Option<string[]> Set { get; } = new("--set")
    {
        Description = "Override one setting, e.g. --set steps=50 --set kl.kind=fixed (applied last).",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<int?> Steps { get; } = new("--steps") { Description = "GRPO-D steps." };

    public Option<string?> Task { get; } = new("--task") { Description = "Task to train: counting or geometry." };

    public Option<long?> Seed { get; } = new("--seed") { Description = "Run seed." };

    public Option<string?> Output { get; } = new("--output", "-o") { Description = "Folder for run folders (default runs)." };

    /// <summary>Not added by <see cref="AddTo"/>: only commands that honour it add it.</summary>
    public Option<bool> DryRun { get; } = new("--dry-run")
    {
        Description = "Check the settings, the output folder and init_checkpoint, print the resolved settings as JSON and "
            + "exit without training.",
    };

    private readonly List<Option> _added = [];

    public void AddTo(Command command) => Add(command, Preset, Config, Set, Steps, Task, Seed, Output);

    /// <summary>Only --preset, --config, --set and --steps: for a command whose --task, --seed or --output mean
    /// something else (grid experiment).</summary>
    public void AddSettingsTo(Command command) => Add(command, Preset, Config, Set, Steps);

    /// <summary>Without --steps and --task: for the warm start alone (grid sft), which trains no GRPO step and draws
    /// demonstrations of every task (sft.task_weights).</summary>
    public void AddWarmStartTo(Command command) => Add(command, Preset, Config, Set, Seed, Output);

    /// <summary>Adds --dry-run; the command's action checks <see cref="IsDryRun"/> after <see cref="Load"/>.</summary>
    public void AddDryRunTo(Command command) => Add(command, DryRun);

    /// <summary>With --dry-run: prints the resolved settings and returns true (the command then exits 0).</summary>
    public bool IsDryRun(ParseResult parse, RunSettings settings)
    {
        if (!_added.Contains(DryRun) || !parse.GetValue(DryRun))
        {
            return false;
        }

        Console.WriteLine(RunSettingsLoader.ToJson(settings));
        Console.WriteLine("settings, output folder and checkpoint are valid (dry run: nothing was trained)");
        return true;
    }

    /// <summary>The settings, validated, with the output folder and init_checkpoint checked on this machine.</summary>
    public RunSettings Load(ParseResult parse)
    {
        var settings = LoadSettings(parse);
        if (_added.Contains(Output))
        {
            Training.Runs.RunPreflight.Check(settings);
        }
        else
        {
            // A command without --output (grid experiment) writes elsewhere and checks its own folder.
            Training.Runs.RunPreflight.RequireStepMemory(settings);
            if (settings.InitCheckpoint is not null)
            {
                Training.Runs.RunPreflight.RequireCheckpoint(settings.InitCheckpoint, "init_checkpoint",
                    tokenizer: Training.Data.RunData.TokenizerFor(settings));
            }
        }

        return settings;
    }

    private RunSettings LoadSettings(ParseResult parse)
    {
        var flags = new RunSettingFlags(
            Steps: _added.Contains(Steps) ? parse.GetValue(Steps) : null,
            Task: _added.Contains(Task) ? parse.GetValue(Task) : null,
            Seed: _added.Contains(Seed) ? parse.GetValue(Seed) : null,
            OutputDirectory: _added.Contains(Output) ? parse.GetValue(Output) : null);
        return RunSettingsLoader.Load(parse.GetValue(Preset), parse.GetValue(Config)?.FullName, parse.GetValue(Set), flags);
    }

    private void Add(Command command, params Option[] options)
    {
        foreach (var option in options)
        {
            command.Options.Add(option);
            _added.Add(option);
        }
    }
}
