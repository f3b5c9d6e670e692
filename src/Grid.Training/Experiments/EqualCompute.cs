using Grid.Core.Settings;

namespace Grid.Training.Experiments;

/// <summary>
/// The study compares RL arms at equal compute: every arm must run the same steps, prompts per step, group size and
/// longest completion. Arms that differ are refused, naming the first setting that differs and each arm's value.
/// </summary>
public static class EqualCompute
{
    /// <exception cref="InvalidSettingException">Two arms differ; <see cref="InvalidSettingException.Setting"/> names
    /// the field (steps, prompts_per_step, group_size or max_new_tokens).</exception>
    public static void Require(IReadOnlyList<(string Arm, ComputeShape Shape)> arms)
    {
        ArgumentNullException.ThrowIfNull(arms);
        var fields = new (string Setting, Func<ComputeShape, int> Value)[]
        {
            ("steps", s => s.Steps),
            ("prompts_per_step", s => s.PromptsPerStep),
            ("group_size", s => s.GroupSize),
            ("max_new_tokens", s => s.MaxNewTokens),
        };
        foreach (var (setting, value) in fields)
        {
            if (arms.Select(a => value(a.Shape)).Distinct().Count() > 1)
            {
                string values = string.Join(", ", arms.Select(a => $"{a.Arm} {value(a.Shape)}"));
                throw new InvalidSettingException(setting, values,
                    "the same for every RL arm, so that they are compared at equal compute; "
                    + "an arm may change only its kl section, task, seed and name");
            }
        }
    }
}
