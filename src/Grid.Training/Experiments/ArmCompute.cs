namespace Grid.Training.Experiments;

/// <summary>An arm's compute over all its runs: what one run does per step and the completion tokens all of them sampled.</summary>
/// <param name="Steps">Optimizer updates per run (GRPO steps, or SFT steps).</param>
/// <param name="ExamplesPerStep">Prompts per GRPO step, or demonstrations per SFT batch.</param>
/// <param name="GroupSize">Completions per prompt; null for sft, which samples none.</param>
/// <param name="MaxNewTokens">Longest completion; null for sft.</param>
/// <param name="TokensGenerated">Completion tokens sampled in training, summed over the arm's runs (metrics.jsonl).</param>
public sealed record ArmCompute(string Arm, int Steps, int ExamplesPerStep, int? GroupSize, int? MaxNewTokens, int Runs,
    long TokensGenerated);
