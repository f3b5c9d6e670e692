using Grid.Tasks;

namespace Grid.Training.Rollouts;

/// <summary>A prompt's G scored rollouts and their group-relative advantages (Eq. 2): what the learner consumes.</summary>
public sealed record ScoredGroup(long Step, int PromptIndex, TaskExample Prompt, int[] PromptTokens,
    IReadOnlyList<Rollout> Rollouts, double[] Advantages)
{
    /// <summary>True when every rollout got the same reward, so the group carries no learning signal.</summary>
    public bool HasZeroRewardSpread => Rollouts.All(r => r.Reward.Total == Rollouts[0].Reward.Total);
}
