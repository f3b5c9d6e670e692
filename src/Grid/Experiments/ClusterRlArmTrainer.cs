using Grid.Cli.Cluster;
using Grid.Cli.Commands;
using Grid.Training;
using Grid.Training.Experiments;
using Grid.Training.Settings;

namespace Grid.Cli.Experiments;

/// <summary>
/// The RL arms on a running cluster, the way <c>grid submit --wait</c> runs one: all arms of a task and seed are
/// submitted (each a separate run, side by side on the cluster), then followed one after another into their run
/// folders (steps the cluster finished while another run was followed are read from the run's controller). A resumed
/// study submits its unfinished arms again.
/// </summary>
internal sealed class ClusterRlArmTrainer(ClusterRun cluster, string description, bool allowCpuLearner) : IRlArmTrainer
{
    public string Mode => $"{description}, the RL arms of a seed side by side";

    public IReadOnlyList<TrainingResult> Train(IReadOnlyList<(ArmRun Run, RunSettings Settings)> runs,
        ExperimentProgress progress, CancellationToken cancellation, IReadOnlyDictionary<string, string> interrupted) =>
        TorchThread.Run(() => ConsoleProgress.Run(console =>
        {
            var observer = new WithoutEvaluationTables(console);
            var submitted = new List<(ArmRun Run, RunSettings Settings, string Id, TrainingResult Warm)>();
            foreach (var (run, settings) in runs)
            {
                progress.Starting(run);
                var (id, warm) = cluster.Submit(settings, runId: null, allowCpuLearner, observer, cancellation);
                progress.Note($"{run.Arm.Name}: submitted as run {id}");
                submitted.Add((run, settings, id, warm));
            }

            var results = new List<TrainingResult>();
            foreach (var (run, settings, id, warm) in submitted)
            {
                var result = cluster.Follow(id, settings, warm, observer, cancellation);
                progress.Finished(run, result);
                results.Add(result);
            }

            return results;
        }));
}
