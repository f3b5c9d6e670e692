namespace Grid.Contracts.Rollouts;

/// <summary>One sampled, scored completion: tokens, their sampling log-probs, and the reward per component.</summary>
[GenerateSerializer]
[Alias("grid.RolloutRecord")]
[Immutable]
public sealed record RolloutRecord(
    [property: Id(0)] int[] CompletionTokens,
    [property: Id(1)] float[] SamplingLogProbs,
    [property: Id(2)] string Text,
    [property: Id(3)] double Accuracy,
    [property: Id(4)] double Format,
    [property: Id(5)] double Reward);
