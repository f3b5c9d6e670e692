namespace Grid.Training.Experiments;

/// <summary>What one run of a study produced: its final policy's held-out accuracy and format rate on every task.</summary>
/// <param name="Arm">The arm's name.</param>
/// <param name="TrainedTask">The task trained on; null for the base arm.</param>
/// <param name="Seed">The run seed; null for the base arm (one policy, evaluated once).</param>
/// <param name="RunFolder">The run folder, relative to the experiment folder.</param>
/// <param name="Accuracy">Greedy accuracy on the held-out prompts, by evaluated task.</param>
/// <param name="FormatRate">Share of well-formed answers on the held-out prompts, by evaluated task.</param>
/// <param name="Steps">Optimizer updates the arm made: GRPO steps, SFT steps, 0 for the base.</param>
/// <param name="TokensGenerated">Completion tokens sampled in training (metrics.jsonl); 0 for base and sft.</param>
/// <param name="UpdatesSkipped">GRPO updates skipped (every group failed or had zero spread).</param>
public sealed record ArmResult(
    string Arm,
    string? TrainedTask,
    long? Seed,
    string RunFolder,
    IReadOnlyDictionary<string, double> Accuracy,
    IReadOnlyDictionary<string, double> FormatRate,
    long Steps,
    long TokensGenerated,
    long UpdatesSkipped,
    double Seconds);
