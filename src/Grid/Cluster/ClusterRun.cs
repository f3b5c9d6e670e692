using Grid.Cli.Runs;
using Grid.Contracts.Runs;
using Grid.Core;
using Grid.Grains.Datasets;
using Grid.Hosting.Configuration;
using Grid.Hosting.Weights;
using Grid.Policy.Checkpoints;
using Grid.Training;
using Grid.Training.Data;
using Grid.Training.Runs;
using Grid.Training.Settings;

namespace Grid.Cli.Cluster;

/// <summary>
/// <c>grid submit</c> from the client's side: the warm start (SFT here, unless init_checkpoint is set) into a local run
/// folder, the initial weights published through the cluster's weight store as version 0, the run's controller
/// started (a run on its own data first publishes the dataset files through the store, <see cref="DatasetPublisher"/>); with --wait, the steps followed into the run folder (metrics.jsonl, checkpoints from the published weights,
/// eval-final.json, summary.json) as <c>grid train</c> writes it. Runs on the caller's thread, which owns this side's
/// torch work, and only blocks on grain calls while no torch scope is open.
/// </summary>
internal sealed class ClusterRun(IClusterClient grains, IWeightStore weights)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);
    private readonly DatasetPublisher _datasets = new(weights);
    private readonly Dictionary<string, RunData> _data = new(StringComparer.Ordinal);

    /// <summary>Warm start, publish version 0, start the controller. Returns the run id and the warm start.</summary>
    public (string RunId, TrainingResult Warm) Submit(RunSettings settings, string? runId, bool allowCpuLearner,
        ITrainingObserver observer, CancellationToken cancellation)
    {
        var warm = new InProcessTrainer(settings, observer).Run(grpo: false, cancellation);
        runId ??= Path.GetFileName(warm.RunFolder);
        var tokenizer = RunData.TokenizerFor(settings); // own data: the byte-fallback tokenizer, 359 ids
        byte[] initial;
        // A Hugging Face policy: every silo builds the network, tokenizer and processor from init_checkpoint's folder
        // (the same path on every node, e.g. a shared volume); the warm-started weights go through the weight store.
        string? hubFolder = settings.InitCheckpoint is { } init && PolicyFolder.IsHuggingFace(init) ? Path.GetFullPath(init) : null;
        if (hubFolder is not null)
        {
            using var warmed = RunPolicy.FromCheckpoint(warm.FinalCheckpoint, tokenizer);
            initial = PolicyCheckpoint.SerializeWeights(warmed.Model);
        }
        else
        {
            var (policy, config) = PolicyCheckpoint.Load(warm.FinalCheckpoint, tokenizer);
            using var loaded = policy;
            var expected = PolicyRuntime.ConfigFor(settings.Model, settings.MaxNewTokens, tokenizer);
            if (config != expected)
            {
                throw new GridConfigurationException(
                    $"The initial checkpoint {warm.FinalCheckpoint} has model {config}, but the run's model settings give "
                    + $"{expected}; the learner builds its policy from the settings, so make model.* match the checkpoint.");
            }

            initial = PolicyCheckpoint.SerializeWeights(policy);
        }

        // Version 0 through the cluster's weight store: the learner's silo cannot read this machine's checkpoint path.
        var published = Wait(weights.GetLatestAsync(runId));
        if (published is null)
        {
            Wait(weights.PublishAsync(runId, 0, initial));
        }

        // Own data through the cluster's store too: the silos cannot read this machine's files.
        RunDataset? dataset = null;
        if (settings.Data.IsSet)
        {
            var data = RunData.For(settings);
            dataset = Wait(_datasets.PublishAsync(runId, settings, data, cancellation));
            _data[runId] = data; // the final evaluation reads what was published, not the files as they are then
        }

        var spec = new RunSpec(settings with { InitCheckpoint = hubFolder }, allowCpuLearner) { Dataset = dataset };
        Wait(Controller(runId).Start(spec));
        File.WriteAllText(Path.Combine(warm.RunFolder, "cluster-run-id.txt"), runId + Environment.NewLine);
        return (runId, warm);
    }

    /// <summary>Follows the run until it completes, writing its steps into the run folder; then the final evaluation.</summary>
    public TrainingResult Follow(string runId, RunSettings settings, TrainingResult warm, ITrainingObserver observer,
        CancellationToken cancellation) =>
        RunFollower.Follow(Controller(runId), weights, settings, warm, observer, PollInterval, "cluster",
            warm.SecondsTotal, cancellation, data: _data.GetValueOrDefault(runId));

    private IControllerGrain Controller(string runId) => grains.GetGrain<IControllerGrain>(runId);

    private static T Wait<T>(Task<T> task) => task.GetAwaiter().GetResult();
}
