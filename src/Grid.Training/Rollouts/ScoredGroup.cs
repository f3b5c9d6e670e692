using Grid.Tasks;

namespace Grid.Training.Rollouts;

/// <summary>A prompt's G scored rollouts and their group-relative advantages (Eq. 2): what the learner consumes.</summary>
public sealed record ScoredGroup(long Step, int PromptIndex, TaskExample Prompt, int[] PromptTokens,
    IReadOnlyList<Rollout> Rollouts, double[] Advantages)
{
    /// <summary>
    /// The policy version that sampled the rollouts; null when it is the version the update starts from (the
    /// synchronous run, and the in-process loop). An older version makes the update reweight the group's tokens by
    /// pi_prox / pi_behav (docs/algorithm.md section 9).
    /// </summary>
    public long? SamplingVersion { get; init; }

    /// <summary>Versions the sampling policy lags behind <paramref name="proximalVersion"/>, the version being updated.</summary>
    public long LagBehind(long proximalVersion) => SamplingVersion is { } v ? Math.Max(0, proximalVersion - v) : 0;

    /// <summary>True when every rollout got the same reward, so the group carries no learning signal.</summary>
    public bool HasZeroRewardSpread => Rollouts.All(r => r.Reward.Total == Rollouts[0].Reward.Total);
}
