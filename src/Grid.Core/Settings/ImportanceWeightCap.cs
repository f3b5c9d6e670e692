using System.Text.Json.Serialization;

namespace Grid.Core.Settings;

/// <summary>
/// What the decoupled objective does with a token whose importance weight pi_prox / pi_behav exceeds the cap
/// (docs/algorithm.md section 9; config key <c>importance_weight_cap</c>).
/// </summary>
[JsonConverter(typeof(SettingEnumConverter<ImportanceWeightCap>))]
public enum ImportanceWeightCap
{
    /// <summary>
    /// <c>drop</c>: the token's policy term gets weight 0 (it still counts in the denominator and its KL term stays), as
    /// AReaL's <c>behav_imp_weight_cap</c> does.
    /// </summary>
    Drop,

    /// <summary><c>truncate</c>: the weight becomes the cap, min(w, cap) (truncated importance sampling, as in verl).</summary>
    Truncate,
}
