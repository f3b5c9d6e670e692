using Grid.Core.Settings;

namespace Grid.Training.Experiments;

/// <summary>
/// One arm of the study: what is done to the shared base policy before it is evaluated. <c>base</c> is evaluated as
/// it is; <c>sft</c> continues supervised training on the trained task; <c>grpo</c>, <c>grpo-d</c> and
/// <c>adaptive</c> train with GRPO under a fixed, dynamic (GRPO-D) or adaptive KL coefficient.
/// </summary>
public sealed record ExperimentArm
{
    private ExperimentArm(string name, string klKind, string description, int? maxStaleness = null)
    {
        Name = name;
        KlKind = klKind;
        Description = description;
        MaxStaleness = maxStaleness;
    }

    public static ExperimentArm Base { get; } = new("base", "", "the base policy, evaluated without further training");

    public static ExperimentArm Sft { get; } = new("sft", "",
        "supervised training continued from the base on the trained task (steps = GRPO steps, batch = prompts per step)");

    public static ExperimentArm Grpo { get; } = new("grpo", "fixed", "GRPO with the paper's best fixed beta for the task");

    public static ExperimentArm GrpoD { get; } = new("grpo-d", "dynamic",
        "GRPO-D: the dynamic KL schedule with the paper's beta range for the task");

    public static ExperimentArm Adaptive { get; } = new("adaptive", "adaptive",
        "GRPO with the adaptive KL controller, starting from the task's fixed beta");

    /// <summary>GRPO-D trained asynchronously: groups may be sampled one policy version behind the step they train.</summary>
    public static ExperimentArm GrpoDAsync { get; } = new("grpo-d-async", "dynamic",
        "GRPO-D with rollouts.max_staleness = 1: groups are sampled up to one version behind, while the learner updates",
        maxStaleness: 1);

    /// <summary>Every arm, in the order tables list them.</summary>
    public static IReadOnlyList<ExperimentArm> All { get; } = [Base, Sft, Grpo, GrpoD, GrpoDAsync, Adaptive];

    /// <summary>The arms run when <c>--arms</c> is not given.</summary>
    public static IReadOnlyList<ExperimentArm> Defaults { get; } = [Base, Sft, Grpo, GrpoD];

    public string Name { get; }

    /// <summary>The kl.kind an RL arm trains with; empty for base and sft.</summary>
    public string KlKind { get; }

    public string Description { get; }

    /// <summary>The rollouts.max_staleness the arm trains with; null keeps the study's setting.</summary>
    public int? MaxStaleness { get; }

    /// <summary>True for the arms that train with GRPO (and must get the same compute).</summary>
    public bool IsRl => KlKind.Length > 0;

    /// <summary>
    /// The arms named in a comma-separated list, in table order and each once. An unknown name is refused with the
    /// known ones.
    /// </summary>
    public static IReadOnlyList<ExperimentArm> ParseList(string text)
    {
        var names = (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.Length == 0)
        {
            throw new InvalidSettingException("arms", text, Allowed);
        }

        foreach (string name in names)
        {
            if (!All.Any(a => a.Name == name))
            {
                throw new InvalidSettingException("arms", name, Allowed);
            }
        }

        return All.Where(a => names.Contains(a.Name)).ToArray();
    }

    public override string ToString() => Name;

    private static string Allowed =>
        $"a comma-separated list of {InvalidSettingException.OneOf(All.Select(a => a.Name))}, e.g. --arms base,sft,grpo,grpo-d";
}
