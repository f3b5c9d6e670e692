using Grid.Core.Settings;

namespace Grid.Learning.Advantages;

/// <summary>How completions are grouped and their rewards turned into advantages (docs/algorithm.md section 2).</summary>
public sealed record AdvantageSettings
{
    /// <summary>G, completions sampled per prompt (config <c>group_size</c>); the paper's default is 8.</summary>
    public int GroupSize { get; init; } = 8;

    /// <summary>Config <c>advantage_scale</c>: group, batch or none.</summary>
    public AdvantageScale Scale { get; init; } = AdvantageScale.Group;

    /// <summary>Returns this, or throws <see cref="InvalidSettingException"/> naming the first bad setting.</summary>
    public AdvantageSettings Validate()
    {
        ValidateGroupSize(GroupSize);
        if (!Enum.IsDefined(Scale))
        {
            throw new InvalidSettingException("advantage_scale", (int)Scale, InvalidSettingException.OneOf(SettingNames<AdvantageScale>.All));
        }

        return this;
    }

    /// <summary>A group needs two completions at least: with one, its std is undefined.</summary>
    public static void ValidateGroupSize(int groupSize)
    {
        if (groupSize < 2)
        {
            throw new InvalidSettingException("group_size", groupSize,
                ">= 2 (a group of one completion has no baseline to compare against)");
        }
    }
}
