using System.Text.Json.Serialization;

namespace Grid.Core.Settings;

/// <summary>Which controller owns beta (docs/algorithm.md sections 4-5; config <c>kl.kind</c>).</summary>
[JsonConverter(typeof(SettingEnumConverter<KlKind>))]
public enum KlKind
{
    /// <summary><c>fixed</c>: beta stays <see cref="KlSettings.Beta"/>.</summary>
    Fixed,

    /// <summary><c>dynamic</c>: GRPO-D's schedule (Eq. 3) from beta_min and beta_max over the run's steps.</summary>
    Dynamic,

    /// <summary><c>adaptive</c>: TRL's adaptive controller, starting at beta and steering the KL to target_kl.</summary>
    Adaptive,
}
