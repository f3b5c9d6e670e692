using Grid.Core;
using Grid.Core.Settings;

namespace Grid.Contracts.Rollouts;

/// <summary>
/// What the controller asks of one prompt group: the run (its settings, and the policy's shape as JSON), the
/// step and prompt, the weights to sample from, and the learner to deliver to.
/// </summary>
[GenerateSerializer]
[Alias("grid.PromptGroupAssignment")]
[Immutable]
public sealed record PromptGroupAssignment(
    [property: Id(0)] string RunId,
    [property: Id(1)] long Step,
    [property: Id(2)] int PromptIndex,
    [property: Id(7)] RunSettings Settings,
    [property: Id(4)] string PolicyConfigJson,
    [property: Id(5)] WeightReference Weights,
    [property: Id(6)] string LearnerKey);
