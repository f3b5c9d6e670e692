using Grid.Contracts.Learning;
using Grid.Contracts.Rollouts;
using Grid.Core;
using Grid.Grains.Torch;
using Grid.Hosting.Weights;
using Grid.Policy.Model;
using Grid.Telemetry;
using Grid.Training.Data;
using Grid.Training.Learner;
using Grid.Training.Settings;
using Microsoft.Extensions.Logging;

namespace Grid.Grains.Learner;

/// <summary>
/// What one run's learner trains and where (made by the silo's <see cref="Rollouts.ISiloPolicy"/>): the run's model
/// on a torch thread (<see cref="ModelLearner"/>), or the fixed-answer benchmark's stand-in that trains nothing
/// (<see cref="FixedAnswerLearner"/>). The grain keeps the bookkeeping, storage and messages; this does the work.
/// </summary>
public interface ILearnerModel : IAsyncDisposable
{
    /// <summary>Where the learner trains; known once it has started.</summary>
    LearnerDevice Device { get; }

    /// <summary>Sets the learner up for the run: at version 0, or from the checkpoint of the version it is given.</summary>
    Task<LearnerStart> StartAsync(LearnerSetup setup, RunSettings settings);

    /// <summary>
    /// Queues one step's update with the plan's beta and what rides on it (the optimizer state it leaves, the
    /// validations of the step); the grain awaits the tasks and stores the results.
    /// </summary>
    LearnerStepWork Apply(StepPlan plan, IReadOnlyList<ScoredGroupRecord> records);
}

/// <summary>What a learner model needs from its grain and silo.</summary>
/// <param name="SiloThread">The silo's torch thread, shared with the rollout engine.</param>
/// <param name="DeclaredGpus">GPUs the silo declared (0 on a silo hosted without AddGridSilo).</param>
/// <param name="Silo">The silo's address, for logs.</param>
public sealed record LearnerContext(string RunId, IWeightStore Weights, LearnerCheckpointStore Checkpoints,
    TorchWorker SiloThread, int DeclaredGpus, string Silo, ILogger Logger)
{
    /// <summary>The silo's copies of published datasets (null on a silo without <c>AddGridGrains</c>' cache).</summary>
    public Datasets.SiloDatasets? Datasets { get; init; }

    /// <summary>The run's data: from the silo's dataset cache when the setup names published data, else as
    /// <see cref="RunData.Shared"/> reads it on this machine (null: let the learner's run read it).</summary>
    public async Task<RunData?> DataAsync(LearnerSetup setup, RunSettings settings)
    {
        ArgumentNullException.ThrowIfNull(setup);
        if (setup.Dataset is not { } dataset)
        {
            return null;
        }

        var cache = Datasets ?? throw new InvalidOperationException(
            $"Run {RunId} trains on published data, but this silo has no dataset cache; build it with AddGridGrains.");
        return await cache.LoadAsync(settings, dataset);
    }
}

/// <summary>Where a started learner stands: its weights and policy shape, the next step it applies, and when it was
/// restored from a checkpoint, how (<see cref="RestoredLearnerState.Describe"/>).</summary>
public sealed record LearnerStart(WeightReference Weights, PolicyConfig Config, long NextStep, long UpdatesSkipped,
    string? Restored = null);

/// <summary>One step's queued work: the update and the new weights, the optimizer state behind them (none when
/// nothing trains), and the validations before and after the update (none on steps that do not validate).</summary>
public sealed record LearnerStepWork(Task<(GrpoStepUpdate Update, byte[] Weights)> Update, Task<byte[]>? OptimizerState,
    Task<(ValidationMetrics? Validation, double Seconds)> ValidationStart,
    Task<(ValidationMetrics? Validation, double Seconds)> Validation)
{
    public static readonly Task<(ValidationMetrics? Validation, double Seconds)> NoValidation =
        Task.FromResult<(ValidationMetrics?, double)>((null, 0));
}
