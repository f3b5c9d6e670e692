using Grid.Core;

namespace Grid.Contracts.Runs;

/// <summary>A run as its controller sees it.</summary>
/// <param name="StepsCompleted">Steps whose update the learner reported (the next step to run).</param>
/// <param name="PolicyVersion">Version of the newest published weights (0 = the initial weights).</param>
/// <param name="Beta">The beta of the step started last (the running one), once one started; the betas of finished
/// steps are in their step reports.</param>
/// <param name="Weights">The newest published weights, once the learner published version 0.</param>
/// <param name="LastError">Why the controller is waiting or retrying (no learner silo, a failed call), if it is.</param>
[GenerateSerializer]
[Alias("grid.RunStatus")]
[Immutable]
public sealed record RunStatus(
    [property: Id(0)] string RunId,
    [property: Id(1)] RunState State,
    [property: Id(2)] long StepsCompleted,
    [property: Id(3)] long TotalSteps,
    [property: Id(4)] long PolicyVersion,
    [property: Id(5)] double? Beta,
    [property: Id(6)] WeightReference? Weights,
    [property: Id(7)] string? LastError);
