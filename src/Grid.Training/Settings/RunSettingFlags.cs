using System.Text.Json;

namespace Grid.Training.Settings;

/// <summary>
/// The settings a command line sets through flags of their own (<c>--steps</c>, <c>--task</c>, <c>--seed</c>,
/// <c>--output</c>); null leaves the setting to the layers below. They are one layer, applied after the settings file
/// and before the <c>--set</c> overrides, so an explicit <c>--set</c> wins last.
/// </summary>
public sealed record RunSettingFlags(int? Steps = null, string? Task = null, long? Seed = null, string? OutputDirectory = null)
{
    /// <summary>The flags as the <c>key=value</c> assignments the loader applies (JSON values, strings quoted).</summary>
    public IEnumerable<string> AsOverrides()
    {
        if (Steps is int steps)
        {
            yield return $"steps={steps}";
        }

        if (Task is not null)
        {
            yield return $"task={JsonSerializer.Serialize(Task)}";
        }

        if (Seed is long seed)
        {
            yield return $"seed={seed}";
        }

        if (OutputDirectory is not null)
        {
            yield return $"output_directory={JsonSerializer.Serialize(OutputDirectory)}";
        }
    }
}
