using Grid.Hosting.Weights;

namespace Grid.Contracts.Learning;

/// <summary>The learner's initial weights (version 0) and the policy's shape as JSON, for the rollout engines.</summary>
[GenerateSerializer]
[Alias("grid.LearnerReady")]
[Immutable]
public sealed record LearnerReady([property: Id(0)] WeightReference Weights, [property: Id(1)] string PolicyConfigJson);
