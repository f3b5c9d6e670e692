namespace Grid.Contracts.Runs;

/// <summary>
/// The learner's greedy evaluation of one policy version on the validation prompts of every task, as a step report
/// carries it.
/// </summary>
[GenerateSerializer]
[Alias("grid.ValidationRecord")]
[Immutable]
public sealed record ValidationRecord
{
    /// <summary>The policy version evaluated (step + 1 after a step's update; 0 before the first step).</summary>
    [Id(0)] public long PolicyVersion { get; init; }

    /// <summary>Prompts per task.</summary>
    [Id(1)] public int Prompts { get; init; }

    /// <summary>One score per task, in the task catalog's order.</summary>
    [Id(2)] public ValidationTaskScore[] Tasks { get; init; } = [];
}

/// <summary>Greedy accuracy and format rate of a policy on one task's validation prompts.</summary>
[GenerateSerializer]
[Alias("grid.ValidationTaskScore")]
[Immutable]
public sealed record ValidationTaskScore(
    [property: Id(0)] string Task,
    [property: Id(1)] double Accuracy,
    [property: Id(2)] double FormatRate);
