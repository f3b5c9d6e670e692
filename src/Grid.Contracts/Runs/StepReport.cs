using Grid.Core;

namespace Grid.Contracts.Runs;

/// <summary>
/// One finished GRPO-D step as the learner reports it: every StepMetrics field (docs/algorithm.md section 8), the weights
/// the update published, and the wall time the grid took for the step.
/// </summary>
[GenerateSerializer]
[Alias("grid.StepReport")]
[Immutable]
public sealed record StepReport
{
    [Id(0)] public long Step { get; init; }

    /// <summary>Policy version the step's rollouts were sampled from; the update made <see cref="Weights"/>.</summary>
    [Id(1)] public long PolicyVersion { get; init; }

    [Id(2)] public double Beta { get; init; }

    [Id(3)] public double RewardMean { get; init; }

    [Id(4)] public double RewardStd { get; init; }

    [Id(5)] public double Accuracy { get; init; }

    [Id(6)] public double FormatRate { get; init; }

    [Id(7)] public double ZeroStdGroupFraction { get; init; }

    [Id(8)] public double KlMean { get; init; }

    [Id(9)] public double Loss { get; init; }

    [Id(10)] public double ClipFraction { get; init; }

    [Id(11)] public double ClipFractionLow { get; init; }

    [Id(12)] public double ClipFractionHigh { get; init; }

    [Id(13)] public double Entropy { get; init; }

    [Id(14)] public double CompletionLengthMean { get; init; }

    [Id(15)] public int CompletionLengthMax { get; init; }

    [Id(16)] public double GradNorm { get; init; }

    [Id(17)] public long TokensGenerated { get; init; }

    [Id(18)] public int Groups { get; init; }

    [Id(19)] public bool UpdateSkipped { get; init; }

    [Id(20)] public string? SkipReason { get; init; }

    [Id(21)] public double SecondsRollout { get; init; }

    [Id(22)] public double SecondsReward { get; init; }

    [Id(23)] public double SecondsReference { get; init; }

    [Id(24)] public double SecondsUpdate { get; init; }

    [Id(25)] public double SecondsPublish { get; init; }

    [Id(26)] public double SecondsTotal { get; init; }

    /// <summary>Resident memory of the learner's process after the step.</summary>
    [Id(30)] public long ProcessRssBytes { get; init; }

    /// <summary>When the learner had stored the step's weights and checkpoint (the learner's clock, UTC).</summary>
    [Id(31)] public DateTimeOffset CompletedAt { get; init; }

    /// <summary>Groups that failed after their retry budget and were left out of the update.</summary>
    [Id(27)] public int FailedGroups { get; init; }

    /// <summary>Attempts of the step's groups that were retries (every attempt after a group's first), failed groups' included.</summary>
    [Id(35)] public int RetriedAttempts { get; init; }

    /// <summary>The weights the update published (version <see cref="PolicyVersion"/> + 1).</summary>
    [Id(28)] public WeightReference? Weights { get; init; }

    /// <summary>Rollouts sampled for the step (for an adaptive KL controller's horizon).</summary>
    [Id(29)] public int Samples { get; init; }

    /// <summary>The learner's validation of the weights this step published, on steps that validate; else null.</summary>
    [Id(32)] public ValidationRecord? Validation { get; init; }

    /// <summary>The learner's validation of version 0, before the first step's update: on step 0 only.</summary>
    [Id(33)] public ValidationRecord? ValidationStart { get; init; }

    /// <summary>Seconds the learner spent validating in this step (counted in <see cref="SecondsTotal"/>).</summary>
    [Id(34)] public double SecondsValidation { get; init; }

    /// <summary>Trained groups by how many versions their sampling policy lagged behind <see cref="PolicyVersion"/> (index = lag).</summary>
    [Id(36)] public int[] StalenessGroups { get; init; } = [];

    /// <summary>Groups that arrived beyond rollouts.max_staleness: left out of the step and sampled again.</summary>
    [Id(37)] public int DroppedStaleGroups { get; init; }

    [Id(38)] public double ImportanceWeightMean { get; init; } = 1;

    [Id(39)] public double ImportanceWeightMax { get; init; } = 1;

    [Id(40)] public double ImportanceWeightCappedFraction { get; init; }

    /// <summary>Share of the step's wall time the learner waited for groups.</summary>
    [Id(41)] public double LearnerIdleFraction { get; init; }
}
