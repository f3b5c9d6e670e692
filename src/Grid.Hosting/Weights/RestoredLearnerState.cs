using Grid.Core;

namespace Grid.Hosting.Weights;

/// <summary>
/// What <see cref="LearnerCheckpointStore.LoadAsync"/> found to resume from: the weights (hash-checked bytes), the
/// optimizer state (null: AdamW starts from zero, exact at version 0), and every newer checkpoint it refused, and why.
/// </summary>
public sealed record RestoredLearnerState(
    WeightReference Weights, byte[] WeightBytes, LearnerCheckpoint? Checkpoint, byte[]? OptimizerState,
    IReadOnlyList<string> Refused)
{
    /// <summary>One line for logs and the run's status: what was restored, and what was refused.</summary>
    public string Describe()
    {
        string optimizer = OptimizerState is not null
            ? $"optimizer state {Checkpoint!.Optimizer!.Sha256[..12]} ({OptimizerState.Length} bytes)"
            : Weights.Version == 0 ? "a fresh optimizer (version 0)" : "a FRESH optimizer (no optimizer state was saved)";
        string text = $"resumed at step {Weights.Version} from weights version {Weights.Version} "
            + $"(sha256 {Weights.Sha256[..12]}) with {optimizer}";
        return Refused.Count == 0
            ? text
            : $"{text}; refused newer checkpoint(s): {string.Join(" | ", Refused)}";
    }
}
