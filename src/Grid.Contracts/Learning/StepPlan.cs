namespace Grid.Contracts.Learning;

/// <summary>A step as the controller fixed it: beta(s), the groups to wait for, the version they sample from.</summary>
[GenerateSerializer]
[Alias("grid.StepPlan")]
[Immutable]
public sealed record StepPlan(
    [property: Id(0)] long Step,
    [property: Id(1)] double Beta,
    [property: Id(2)] int Groups,
    [property: Id(3)] long PolicyVersion);
