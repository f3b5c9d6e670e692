namespace Grid.Learning.Objective;

/// <summary>
/// The importance weights w = pi_prox / pi_behav of one batch's generated tokens (docs/algorithm.md section 9), before
/// the cap.
/// </summary>
/// <param name="Mean">Mean weight over generated tokens.</param>
/// <param name="Max">Largest weight over generated tokens.</param>
/// <param name="CappedFraction">Fraction of generated tokens whose weight exceeded the cap (dropped or truncated).</param>
public sealed record ImportanceWeightStatistics(double Mean, double Max, double CappedFraction)
{
    /// <summary>Every rollout sampled by the policy being updated: w = 1 everywhere, nothing capped.</summary>
    public static ImportanceWeightStatistics Synchronous { get; } = new(1.0, 1.0, 0.0);
}
