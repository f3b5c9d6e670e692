using Grid.Training.Settings;

namespace Grid.Training.Experiments;

/// <summary>
/// One run of a study: an arm trained on one task with one seed (the base arm: once, on no task). Its settings are
/// the study's with only what defines the arm changed (name, task, seed, kl section; for sft the sft section), and
/// start from the base checkpoint given to <see cref="StartingFrom"/>.
/// </summary>
/// <param name="TrainedTask">The task the arm trains on; null for the base arm.</param>
/// <param name="Seed">The run seed (the study's seed + the seed index); the base arm keeps the study's seed.</param>
public sealed record ArmRun(ExperimentArm Arm, string? TrainedTask, int SeedIndex, long Seed, RunSettings Settings)
{
    /// <summary>"grpo-d on counting, seed 2 of 3"-style label for progress lines.</summary>
    public string Label(int seeds) => TrainedTask is null
        ? Arm.Name
        : $"{Arm.Name} on {TrainedTask}, seed {SeedIndex + 1} of {seeds}";

    /// <summary>The run's settings starting from the base checkpoint (the base arm: evaluating it).</summary>
    public RunSettings StartingFrom(string baseCheckpoint)
    {
        ArgumentException.ThrowIfNullOrEmpty(baseCheckpoint);
        return Settings with { InitCheckpoint = baseCheckpoint };
    }
}
