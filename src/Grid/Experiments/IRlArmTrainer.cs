using Grid.Training;
using Grid.Training.Experiments;
using Grid.Training.Settings;

namespace Grid.Cli.Experiments;

/// <summary>Trains the RL arms of one task and seed from the base, on the embedded grid or on a cluster.</summary>
internal interface IRlArmTrainer
{
    /// <summary>Where the arms run, for results.md ("embedded grid ...", "cluster ...").</summary>
    string Mode { get; }

    /// <summary>Trains every run (settings already starting from the base) and returns their results in the same order.
    /// Tells <paramref name="progress"/> as each starts and finishes. <paramref name="interrupted"/> names the run folders
    /// (by run name) of runs a stopped study left behind, to be continued rather than started again where the trainer can.</summary>
    IReadOnlyList<TrainingResult> Train(IReadOnlyList<(ArmRun Run, RunSettings Settings)> runs, ExperimentProgress progress,
        CancellationToken cancellation, IReadOnlyDictionary<string, string> interrupted);
}
