using System.Text.Json.Serialization;

namespace Grid.Core.Settings;

/// <summary>What the centred rewards are divided by (docs/algorithm.md section 2; config <c>advantage_scale</c>).</summary>
[JsonConverter(typeof(SettingEnumConverter<AdvantageScale>))]
public enum AdvantageScale
{
    /// <summary><c>group</c>: the std of the prompt's group, as in the paper's Eq. 2.</summary>
    Group,

    /// <summary><c>batch</c>: the std of every reward in the batch.</summary>
    Batch,

    /// <summary><c>none</c>: no division, as in Dr. GRPO.</summary>
    None,
}
