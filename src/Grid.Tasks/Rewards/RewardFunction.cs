namespace Grid.Tasks.Rewards;

/// <summary>The reward of one scored completion, by component (docs/algorithm.md Eq. 1).</summary>
/// <param name="Accuracy">1 when the answer matches the ground truth, else 0.</param>
/// <param name="Format">1 when the completion is well formed, else 0.</param>
/// <param name="Total">Accuracy + alpha * Format.</param>
public readonly record struct Reward(double Accuracy, double Format, double Total);

/// <summary>R = R_acc + alpha * R_format (docs/algorithm.md Eq. 1). alpha = 1 is the paper's best setting.</summary>
public sealed class RewardFunction
{
    public RewardFunction(double formatWeight = 1.0)
    {
        if (!double.IsFinite(formatWeight) || formatWeight < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(formatWeight), formatWeight,
                "format_weight (alpha) must be a finite number >= 0; the paper uses 1.");
        }

        FormatWeight = formatWeight;
    }

    /// <summary>alpha in Eq. 1.</summary>
    public double FormatWeight { get; }

    public Reward Score(string completion, string groundTruth) => Score(completion, groundTruth, AnswerRule.Auto);

    /// <summary>As <see cref="Score(string, string)"/>, with the accuracy decided by <paramref name="rule"/>.</summary>
    public Reward Score(string completion, string groundTruth, AnswerRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        double accuracy = rule.Matches(CompletionFormat.ExtractAnswer(completion), groundTruth) ? 1 : 0;
        double format = CompletionFormat.IsWellFormed(completion) ? 1 : 0;
        return new Reward(accuracy, format, accuracy + (FormatWeight * format));
    }
}
