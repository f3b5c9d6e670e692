using Grid.Cli.Commands;
using Grid.Cli.Embedded;
using Grid.Training;
using Grid.Training.Experiments;
using Grid.Training.Settings;

namespace Grid.Cli.Experiments;

/// <summary>
/// The RL arms on the embedded grid, one after another, each exactly as <c>grid train</c> runs it from a checkpoint.
/// Each run gets a torch thread of its own that ends with it, so no thread of this process keeps an OpenMP team while
/// the next run's silo trains. A run a stopped study left on the grid is resumed.
/// </summary>
internal sealed class EmbeddedRlArmTrainer : IRlArmTrainer
{
    public string Mode => "the embedded grid (one silo in this process), one run after another";

    public IReadOnlyList<TrainingResult> Train(IReadOnlyList<(ArmRun Run, RunSettings Settings)> runs,
        ExperimentProgress progress, CancellationToken cancellation, IReadOnlyDictionary<string, string> interrupted)
    {
        var results = new List<TrainingResult>();
        foreach (var (run, settings) in runs)
        {
            progress.Starting(run);
            // A run a stopped study left on the grid goes on from its persisted state, as grid train --resume does.
            var result = TorchThread.Run(() => ConsoleProgress.Run(observer => interrupted.TryGetValue(settings.Name, out var folder)
                ? EmbeddedGridTrainer.Resume(InterruptedRun.Read(folder), new WithoutEvaluationTables(observer), metrics: null, cancellation)
                : EmbeddedGridTrainer.Run(settings, new WithoutEvaluationTables(observer), metrics: null, cancellation)));
            progress.Finished(run, result);
            NativeMemory.Release(); // the next run starts from this run's baseline, not on top of its peak
            results.Add(result);
        }

        return results;
    }
}
