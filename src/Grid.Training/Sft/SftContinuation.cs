using System.Diagnostics;
using Grid.Core;
using Grid.Policy.Checkpoints;
using Grid.Tasks;
using Grid.Tasks.Datasets;
using Grid.Tasks.Verification;
using Grid.Training.Data;
using Grid.Training.Evaluation;
using Grid.Training.Rollouts;
using Grid.Training.Runs;
using Grid.Training.Settings;

namespace Grid.Training.Sft;

/// <summary>
/// Supervised training continued from a checkpoint on one task: the SFT arm of a study. Loads
/// <c>init_checkpoint</c>, trains <c>sft.steps</c> batches of <c>sft.batch_size</c> from <c>sft.demonstrations</c>
/// demonstrations of <c>task</c>, and writes a normal run folder: settings.json, sft.jsonl,
/// checkpoints/step-NNNNNN, eval-start.json (the start's evaluation, handed in), eval-final.json and summary.json.
/// Runs synchronously on the caller's thread, which must own its torch work.
/// </summary>
public sealed class SftContinuation
{
    private readonly RunSettings _settings;
    private readonly ITrainingObserver _observer;

    public SftContinuation(RunSettings settings, ITrainingObserver observer)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.InitCheckpoint is null)
        {
            throw new ArgumentException("Continued SFT starts from a checkpoint: set init_checkpoint.", nameof(settings));
        }

        _settings = settings;
        _observer = observer;
    }

    /// <param name="start">The starting checkpoint's evaluation on this run's held-out prompts (written as eval-start.json).</param>
    /// <param name="firstDemonstration">Index of the first demonstration of the task's stream to use; past the ones the
    /// starting policy was trained on, the demonstrations are new to it.</param>
    public TrainingResult Run(EvalReport start, int firstDemonstration, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(start);
        ArgumentOutOfRangeException.ThrowIfNegative(firstDemonstration);
        var total = Stopwatch.StartNew();
        var s = _settings;
        PolicyRuntime.Configure(s.Threads, s.Seed);
        var folder = RunFolder.Create(s, DateTimeOffset.UtcNow);
        var data = RunData.For(s);
        if (data.Record is { } record)
        {
            folder.WriteJson("data.json", record);
        }

        var (policy, config) = PolicyCheckpoint.Load(s.InitCheckpoint!, data.Tokenizer);
        using (policy)
        {
            TaskExample[] demonstrations;
            if (data.TrainTask is DatasetTask dataset)
            {
                // The train records from firstDemonstration on, in file order (round again when the file is shorter).
                var examples = dataset.Examples;
                demonstrations = [.. Enumerable.Range(firstDemonstration, s.Sft.Demonstrations).Select(i => examples[i % examples.Count])];
            }
            else
            {
                var task = TaskCatalog.Get(s.Task);
                var source = new PromptSource(s.Seed);
                demonstrations = [.. Enumerable.Range(firstDemonstration, s.Sft.Demonstrations).Select(i => source.Demonstration(task, i))];
            }

            var startReport = start with { Label = "start", TrainedTask = data.TrainedTask };
            folder.WriteJson("eval-start.json", startReport);

            new SftTrainer(s.Sft, data.Tokenizer).Train(policy, demonstrations, s.Seed, folder, _observer, cancellation);
            string checkpoint = folder.CheckpointPath(s.Sft.Steps);
            PolicyCheckpoint.Save(policy, config, checkpoint, data.Tokenizer);
            double secondsSft = total.Elapsed.TotalSeconds;

            _observer.OnPhase("eval", 0);
            var final = new Evaluator(new TaskVerifier(s.FormatWeight), s.MaxNewTokens, data.Tokenizer)
                .Evaluate(policy, data.EvalTasks, s.EvalPrompts, "final", data.TrainedTask);
            folder.WriteJson("eval-final.json", final);
            _observer.OnEvaluation(final);

            var result = new TrainingResult(folder.Path, startReport, final, StepsCompleted: 0, UpdatesSkipped: 0,
                secondsSft, SecondsGrpo: 0, total.Elapsed.TotalSeconds, checkpoint, ProcessMemory.PeakRssBytes());
            folder.WriteJson("summary.json", result);
            return result;
        }
    }
}
