using Grid.Tasks.Rewards;

namespace Grid.Tasks.Verification;

/// <summary>Scores a completion against an example's answer under the example's <see cref="TaskExample.AnswerRule"/>: R = R_acc + alpha * R_format (docs/algorithm.md Eq. 1).</summary>
public sealed class TaskVerifier
{
    private readonly RewardFunction _rewardFunction;

    /// <param name="formatWeight">alpha; 1 is the paper's best setting.</param>
    public TaskVerifier(double formatWeight = 1.0)
    {
        _rewardFunction = new RewardFunction(formatWeight);
    }

    public double FormatWeight => _rewardFunction.FormatWeight;

    public Reward Score(TaskExample example, string completion)
    {
        ArgumentNullException.ThrowIfNull(example);
        ArgumentNullException.ThrowIfNull(completion);
        return _rewardFunction.Score(completion, example.Answer, example.AnswerRule);
    }
}
