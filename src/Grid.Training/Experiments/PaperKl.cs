using Grid.Training.Settings;

namespace Grid.Training.Experiments;

/// <summary>
/// The KL settings of OThink-MR1 (arXiv 2503.16081) per task: the best fixed beta (counting 0.04, geometry 0.01) and
/// GRPO-D's beta range (counting 0.04 to 0.1, geometry 0 to 0.02), with the warm-up at 30% of the steps. Taken from
/// the paper, not tuned here: the study chooses no hyper-parameter on its test prompts.
/// </summary>
public static class PaperKl
{
    public const double WarmupFraction = 0.3;

    public static double FixedBeta(string task) => task switch
    {
        "counting" => 0.04,
        "geometry" => 0.01,
        _ => throw new ArgumentException($"The paper gives no KL settings for task \"{task}\".", nameof(task)),
    };

    public static (double Min, double Max) DynamicRange(string task) => task switch
    {
        "counting" => (0.04, 0.1),
        "geometry" => (0.0, 0.02),
        _ => throw new ArgumentException($"The paper gives no KL settings for task \"{task}\".", nameof(task)),
    };

    /// <summary>
    /// The kl section an RL arm trains <paramref name="task"/> with: <paramref name="current"/> with only what defines
    /// the arm replaced (the kind, and the beta or beta range of the paper). Other arms keep <paramref name="current"/>.
    /// </summary>
    public static KlSettings For(ExperimentArm arm, string task, KlSettings current) =>
        For(arm, current, () => FixedBeta(task), () => DynamicRange(task));

    /// <summary>
    /// The kl section of an RL arm on a dataset of the user's own, for which the paper gives no values: the arm's kind
    /// with the study's own <c>kl.beta</c> (grpo, adaptive) or <c>kl.beta_min</c>..<c>kl.beta_max</c> (grpo-d, with the
    /// paper's warm-up fraction); set them with --set to tune the comparison to the data.
    /// </summary>
    public static KlSettings ForOwnData(ExperimentArm arm, KlSettings current)
    {
        ArgumentNullException.ThrowIfNull(current);
        return For(arm, current, () => current.Beta, () => (current.BetaMin, current.BetaMax));
    }

    private static KlSettings For(ExperimentArm arm, KlSettings current, Func<double> fixedBeta,
        Func<(double Min, double Max)> dynamicRange)
    {
        ArgumentNullException.ThrowIfNull(arm);
        ArgumentNullException.ThrowIfNull(current);
        if (arm == ExperimentArm.Grpo)
        {
            return current with { Kind = KlKind.Fixed, Beta = fixedBeta() };
        }

        if (arm == ExperimentArm.GrpoD || arm == ExperimentArm.GrpoDAsync)
        {
            var (min, max) = dynamicRange();
            return current with { Kind = KlKind.Dynamic, BetaMin = min, BetaMax = max, WarmupFraction = WarmupFraction };
        }

        if (arm == ExperimentArm.Adaptive)
        {
            return current with { Kind = KlKind.Adaptive, Beta = fixedBeta() };
        }

        return current;
    }
}
