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

    private readonly List<Option> _added = [];

    public void AddTo(Command command) => Add(command, Preset, Config, Set, Steps, Task, Seed, Output);

    /// <summary>Only --preset, --config, --set and --steps: for a command whose --task, --seed or --output mean
    /// something else (grid experiment).</summary>
    public void AddSettingsTo(Command command) => Add(command, Preset, Config, Set, Steps);

    public RunSettings Load(ParseResult parse)
    {
        var overrides = new List<string>(parse.GetValue(Set) ?? []);
        if (_added.Contains(Steps) && parse.GetValue(Steps) is int steps)
        {
            overrides.Add($"steps={steps}");
        }

        if (_added.Contains(Task) && parse.GetValue(Task) is string task)
        {
            overrides.Add($"task=\"{task}\"");
        }

        if (_added.Contains(Seed) && parse.GetValue(Seed) is long seed)
        {
            overrides.Add($"seed={seed}");
        }

        if (_added.Contains(Output) && parse.GetValue(Output) is string output)
        {
            overrides.Add($"output_directory={System.Text.Json.JsonSerializer.Serialize(output)}");
        }

        return RunSettingsLoader.Load(parse.GetValue(Preset), parse.GetValue(Config)?.FullName, overrides);
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
