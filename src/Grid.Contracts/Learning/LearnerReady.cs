using Grid.Core;

namespace Grid.Contracts.Learning;

/// <summary>
/// The learner's weights (version 0 when it starts a run; when set up from a recorded version, the version it resumed
/// from, older than the recorded one only when that checkpoint was refused) and the policy's shape as JSON, for the
/// rollout engines. <paramref name="Restored"/>: what a resumed learner restored and refused, in words.
/// </summary>
[GenerateSerializer]
[Alias("grid.LearnerReady")]
[Immutable]
public sealed record LearnerReady(
    [property: Id(0)] WeightReference Weights,
    [property: Id(1)] string PolicyConfigJson,
    [property: Id(2)] string? Restored = null);
