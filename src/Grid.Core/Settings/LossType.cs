using System.Text.Json.Serialization;

namespace Grid.Core.Settings;

/// <summary>How per-token losses are averaged (docs/algorithm.md section 3; config key <c>loss_type</c>).</summary>
[JsonConverter(typeof(SettingEnumConverter<LossType>))]
public enum LossType
{
    /// <summary><c>grpo</c>: mean over completions of their token means (the paper's 1/G sum 1/|o_i|).</summary>
    Grpo,

    /// <summary><c>bnpo</c>: token mean over the whole batch (DAPO's token-level loss).</summary>
    Bnpo,

    /// <summary><c>dr_grpo</c>: token sum divided by B * max_completion_length (Dr. GRPO: no length bias).</summary>
    DrGrpo,
}
