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
    [property: Id(6)] string LearnerKey)
{
    /// <summary>The run's published data (<see cref="Runs.RunSpec.Dataset"/>); null when the group draws its prompt from
    /// the generators or from files on this machine.</summary>
    [Id(8)]
    public Runs.RunDataset? Dataset { get; init; }

    /// <summary>With <see cref="Dataset"/>: the group's example, the index-th of the train examples (file order, after
    /// the split) of the archive with the train sha256.</summary>
    [Id(9)]
    public int ExampleIndex { get; init; }
}
