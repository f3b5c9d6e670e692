using Grid.Core.Settings;
using Grid.Training.Settings;

namespace Grid.Training.Experiments;

/// <summary>
/// How much compute a study gets. <c>full</c> uses the settings as given. <c>small</c> caps the GRPO steps (and so the
/// SFT arm's steps) at <see cref="SmallSteps"/> and the held-out prompts per task at <see cref="SmallEvalPrompts"/>,
/// so that 2 tasks x (sft, grpo, grpo-d) x 3 seeds and the default warm start finish within an hour on 2 cores (the
/// measured times are in docs/operations.md, "Measured").
/// </summary>
public sealed record ExperimentBudget
{
    public const int SmallSteps = 60;

    public const int SmallEvalPrompts = 200;

    private ExperimentBudget(string name) => Name = name;

    public static ExperimentBudget Full { get; } = new("full");

    public static ExperimentBudget Small { get; } = new("small");

    public string Name { get; }

    /// <summary>"small" or "full"; anything else is refused naming the value.</summary>
    public static ExperimentBudget Parse(string? text) => text switch
    {
        "small" => Small,
        "full" => Full,
        _ => throw new InvalidSettingException("budget", text,
            "\"small\" (60 GRPO steps, 200 held-out prompts per task: within an hour on 2 cores) or \"full\" (the settings as given)"),
    };

    /// <summary>The settings under this budget: only steps and eval_prompts change, and only downwards.</summary>
    public RunSettings Apply(RunSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return this == Small
            ? settings with
            {
                Steps = Math.Min(settings.Steps, SmallSteps),
                EvalPrompts = Math.Min(settings.EvalPrompts, SmallEvalPrompts),
            }
            : settings;
    }

    /// <summary>What <see cref="Apply"/> changed, one "setting: before -> after" per change; empty when nothing.</summary>
    public IReadOnlyList<string> Changes(RunSettings settings)
    {
        var applied = Apply(settings);
        var changes = new List<string>();
        if (applied.Steps != settings.Steps)
        {
            changes.Add($"steps: {settings.Steps} -> {applied.Steps}");
        }

        if (applied.EvalPrompts != settings.EvalPrompts)
        {
            changes.Add($"eval_prompts: {settings.EvalPrompts} -> {applied.EvalPrompts}");
        }

        return changes;
    }

    /// <summary>One sentence for the console and results.md: the budget and exactly what it changed.</summary>
    public string Describe(RunSettings settings)
    {
        var changes = Changes(settings);
        return this == Full
            ? "budget full: the settings as given"
            : changes.Count == 0
                ? $"budget small: nothing changed (steps <= {SmallSteps} and eval_prompts <= {SmallEvalPrompts} already)"
                : $"budget small: {string.Join("; ", changes)}";
    }

    public override string ToString() => Name;
}
