using Grid.Core.Settings;

namespace Grid.Learning.Advantages;

/// <summary>How completions are grouped and their rewards turned into advantages (docs/algorithm.md section 2).</summary>
public sealed record AdvantageSettings
{
    /// <summary>G, completions sampled per prompt (config <c>group_size</c>); the paper's default is 8.</summary>
    public int GroupSize { get; init; } = 8;

    /// <summary>Config <c>advantage_scale</c>: group, batch or none.</summary>
    public AdvantageScale Scale { get; init; } = AdvantageScale.Group;

    /// <summary>Returns this, or throws <see cref="ArgumentOutOfRangeException"/>: a guard against a programmer's error
    /// only; the run's group_size and advantage_scale were refused, if wrong, where they were loaded (Grid.Training's
    /// RunSettingsValidator).</summary>
    public AdvantageSettings Validate()
    {
        ValidateGroupSize(GroupSize);
        if (!Enum.IsDefined(Scale))
        {
            throw new ArgumentOutOfRangeException(nameof(Scale), Scale, "Not a defined advantage scale.");
        }

        return this;
    }

    /// <summary>A group needs two completions at least: with one, its std is undefined.</summary>
    public static void ValidateGroupSize(int groupSize) => ArgumentOutOfRangeException.ThrowIfLessThan(groupSize, 2);
}
