namespace Grid.Core;

/// <summary>Everything one GRPO-D step reports (docs/algorithm.md section 8); one line of <c>metrics.jsonl</c>.</summary>
public sealed record StepMetrics
{
    public long Step { get; init; }

    /// <summary>Policy version the step's rollouts were sampled from; the update makes version + 1.</summary>
    public long PolicyVersion { get; init; }

    public double Beta { get; init; }

    public double RewardMean { get; init; }

    public double RewardStd { get; init; }

    /// <summary>Mean accuracy reward: the share of rollouts whose answer was right.</summary>
    public double Accuracy { get; init; }

    /// <summary>Mean format reward: the share of well-formed rollouts.</summary>
    public double FormatRate { get; init; }

    public double ZeroStdGroupFraction { get; init; }

    public double KlMean { get; init; }

    public double Loss { get; init; }

    public double ClipFraction { get; init; }

    public double ClipFractionLow { get; init; }

    public double ClipFractionHigh { get; init; }

    public double Entropy { get; init; }

    public double CompletionLengthMean { get; init; }

    public int CompletionLengthMax { get; init; }

    public double GradNorm { get; init; }

    public long TokensGenerated { get; init; }

    public int Groups { get; init; }

    public bool UpdateSkipped { get; init; }

    /// <summary>
    /// The step's trained groups by how many versions their sampling policy lagged behind <see cref="PolicyVersion"/>:
    /// index 0 counts groups sampled by the policy being updated, index j those sampled j versions earlier. A
    /// synchronous run (rollouts.max_staleness = 0) has every group at index 0; no index exceeds the run's bound.
    /// </summary>
    public IReadOnlyList<int> StalenessGroups { get; init; } = [];

    /// <summary>Groups that arrived sampled beyond the staleness bound, were left out and sampled again.</summary>
    public int DroppedStaleGroups { get; init; }

    /// <summary>Mean importance weight pi_prox / pi_behav over the update's generated tokens (1 when synchronous).</summary>
    public double ImportanceWeightMean { get; init; } = 1;

    /// <summary>Largest importance weight of the update (1 when synchronous).</summary>
    public double ImportanceWeightMax { get; init; } = 1;

    /// <summary>Share of generated tokens whose importance weight exceeded max_importance_weight.</summary>
    public double ImportanceWeightCappedFraction { get; init; }

    /// <summary>
    /// Share of the step's wall time (from the end of the previous update to the end of this one) the learner spent
    /// waiting for groups rather than updating, validating and storing; 0 where it is not measured (the in-process loop).
    /// </summary>
    public double LearnerIdleFraction { get; init; }

    public string? SkipReason { get; init; }

    /// <summary>Greedy validation of the policy this step's update made (version <see cref="PolicyVersion"/> + 1), on
    /// steps that validate (every <c>eval_every</c>-th and the last); null on the others and when validation is off.</summary>
    public ValidationMetrics? Validation { get; init; }

    /// <summary>Greedy validation of the policy before the first step (version 0), so the curve has its start: only on
    /// the first step's line, null on the others and when validation is off.</summary>
    public ValidationMetrics? ValidationStart { get; init; }

    public double SecondsRollout { get; init; }

    public double SecondsReward { get; init; }

    public double SecondsReference { get; init; }

    public double SecondsUpdate { get; init; }

    public double SecondsPublish { get; init; }

    /// <summary>Seconds this step spent validating (both evaluations on the first step); 0 without validation.</summary>
    public double SecondsValidation { get; init; }

    public double SecondsTotal { get; init; }

    /// <summary>Resident memory of the process after the step, to see that a long run does not grow.</summary>
    public long ProcessRssBytes { get; init; }

    /// <summary>
    /// The names (as in <c>metrics.jsonl</c>) of this step's metrics that are NaN or infinite, which the line holds as
    /// null (<see cref="NonFinite"/>): the loss, entropy and gradient norm of a step whose groups all failed, say.
    /// Empty for an ordinary step. Computed from the values, so a line read back lists them again.
    /// </summary>
    public IReadOnlyList<string> NonFiniteMetrics =>
        [.. Numbers.Where(n => !double.IsFinite(n.Get(this))).Select(n => n.Name)];

    /// <summary>Every double of the record with its snake_case name.</summary>
    private static readonly (string Name, Func<StepMetrics, double> Get)[] Numbers =
    [
        .. typeof(StepMetrics).GetProperties()
            .Where(p => p.PropertyType == typeof(double))
            .Select(p => (System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name),
                (Func<StepMetrics, double>)(m => (double)p.GetValue(m)!))),
    ];
}
