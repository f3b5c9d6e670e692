using Grid.Contracts.Learning;
using Grid.Contracts.Rollouts;
using Grid.Core;
using Grid.Grains.Torch;
using Grid.Hosting.Weights;
using Grid.Telemetry;
using Grid.Training;
using Grid.Training.Settings;
using Microsoft.Extensions.Logging;
using TorchSharp;

namespace Grid.Grains.Learner;

/// <summary>
/// A run's learner of the model (<see cref="Rollouts.ModelPolicy"/>): its policies and optimizer (<see cref="LearnerRun"/>)
/// live on one torch thread: on the CPU the silo's torch thread, which the learner shares with the rollout engine
/// (<see cref="Rollouts.RolloutEngine"/> says why); on a GPU a <see cref="TorchWorker"/> of its own.
/// </summary>
internal sealed class ModelLearner(LearnerContext context) : ILearnerModel
{
    private ITorchThread? _torch;
    private TorchWorker? _ownThread; // a GPU learner's
    private LearnerRun? _run;
    private torch.Device? _pinned; // set with _torch

    /// <summary>A silo that declares GPUs but loaded a libtorch without CUDA says so once, not at every learner.</summary>
    private static int _warnedNoCuda;

    public LearnerDevice Device { get; private set; } = LearnerDevice.Cpu;

    private string RunId => context.RunId;

    public async Task<LearnerStart> StartAsync(LearnerSetup setup, RunSettings settings)
    {
        ArgumentNullException.ThrowIfNull(setup);
        ArgumentNullException.ThrowIfNull(settings);
        if (setup.CurrentWeights is { } current)
        {
            return await ResumeAsync(settings, setup.InitialWeights ?? throw new ArgumentException(
                "A resumed learner needs the run's initial weights (the reference policy).", nameof(setup)), current,
                await context.DataAsync(setup, settings));
        }

        // A cluster client (grid submit) publishes the initial weights as version 0, because a local checkpoint path
        // on the client's machine means nothing to the silo this learner lands on.
        var weights = context.Weights;
        var published = settings.InitCheckpoint is null ? await weights.GetLatestAsync(RunId) : null;
        if (published is not null && published.Version != 0)
        {
            throw new InvalidOperationException(
                $"Run {RunId} already has weights version {published.Version}; a new learner cannot start from them.");
        }

        byte[]? publishedBytes = published is null ? null : await weights.ReadAsync(published);
        var data = await context.DataAsync(setup, settings);
        _torch ??= await TorchThreadAsync();
        var (run, initial) = await _torch.RunAsync(() =>
        {
            var run = new LearnerRun(settings, publishedBytes, device: _pinned, data: data);
            return (run, publishedBytes is null ? run.SerializeWeights() : null);
        });
        var reference = published ?? await weights.PublishAsync(RunId, 0, initial!);
        _run = run;
        context.Logger.LogInformation("Learner of run {RunId} ready on {Silo}; published version 0", RunId, context.Silo);
        return new LearnerStart(reference, run.Config, NextStep: 0, UpdatesSkipped: 0);
    }

    /// <summary>
    /// A learner lost with its silo (its silo died, or the whole cluster restarted) starts again from the checkpoint of
    /// the newest version the controller recorded: those weights and the optimizer state saved with them, the initial
    /// weights as its reference policy. A damaged checkpoint is refused and the previous good one used; the returned
    /// weights then are older than <paramref name="current"/> and <see cref="LearnerStart.Restored"/> says why.
    /// </summary>
    private async Task<LearnerStart> ResumeAsync(RunSettings settings, WeightReference initial, WeightReference current,
        Training.Data.RunData? data)
    {
        var restored = await context.Checkpoints.LoadAsync(RunId, initial, current);
        byte[] referenceBytes = restored.Weights == initial ? restored.WeightBytes : await context.Weights.ReadAsync(initial);
        _torch ??= await TorchThreadAsync();
        _run = await _torch.RunAsync(() => new LearnerRun(settings, restored.WeightBytes, referenceBytes,
            _pinned, restored.OptimizerState, data));
        string description = restored.Describe();
        if (restored.Refused.Count > 0)
        {
            context.Logger.LogError("Learner of run {RunId} on {Silo} {Restored}", RunId, context.Silo, description);
        }
        else
        {
            context.Logger.LogInformation("Learner of run {RunId} on {Silo} {Restored}", RunId, context.Silo, description);
        }

        // version v was published by step v - 1
        return new LearnerStart(restored.Weights, _run.Config, restored.Weights.Version, _run.UpdatesSkipped, description);
    }

    public LearnerStepWork Apply(StepPlan plan, IReadOnlyList<ScoredGroupRecord> records)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var run = _run ?? throw new InvalidOperationException($"The learner of run {RunId} has not started.");
        var torch = _torch!;
        var validationStart = LearnerStepWork.NoValidation;
        var validation = LearnerStepWork.NoValidation;
        if (run.ValidatesBefore(plan.Step))
        {
            // The curve's start (version 0), queued before the update.
            validationStart = ValidateAsync(run, plan.Step, policyVersion: 0);
        }

        var updating = torch.RunAsync(() =>
        {
            var update = run.Update(plan.Step, plan.Beta, run.Groups(plan.Step, records));
            return (update, run.SerializeWeights());
        });
        // Queued right behind the update, so it serializes the state the update left (nothing else touches this
        // run's optimizer), on the torch thread while the grain publishes the weights. It only reads the state: if
        // the update fails, it does not.
        var optimizerState = torch.RunAsync(run.SerializeOptimizer);
        if (run.ValidatesAfter(plan.Step))
        {
            // Behind those, while the weights are stored: it only reads the policy the update left.
            validation = ValidateAsync(run, plan.Step, policyVersion: plan.Step + 1);
        }

        return new LearnerStepWork(updating, optimizerState, validationStart, validation);
    }

    /// <summary>
    /// Queues a validation of the current policy on the torch thread at once, so it runs in order with the update. A
    /// failure is logged and leaves the step without that validation: the applied update must still be stored and
    /// reported.
    /// </summary>
    private async Task<(ValidationMetrics? Validation, double Seconds)> ValidateAsync(LearnerRun run, long step, long policyVersion)
    {
        var validating = _torch!.RunAsync(() => run.Validate(policyVersion));
        try
        {
            return await validating;
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            context.Logger.LogError(error, "Learner of run {RunId} could not validate policy version {Version} at step {Step}; "
                + "the step is reported without it", RunId, policyVersion, step);
            return (null, 0);
        }
    }

    /// <summary>
    /// Pins this learner to its device and returns the thread for its torch work: its own when it trains on a GPU,
    /// else the silo's torch thread, so the silo's CPU torch work has one OpenMP team. Whether CUDA is there is asked
    /// on the silo's thread: even that query is torch work.
    /// </summary>
    private async Task<ITorchThread> TorchThreadAsync()
    {
        int gpus = context.DeclaredGpus;
        var choice = await context.SiloThread.RunAsync(() => LearnerDeviceChoice.Probe(gpus));
        var device = choice.Device;
        if (!choice.IsWarning)
        {
            context.Logger.LogInformation("Learner of run {RunId} on {Silo} {Device}", RunId, context.Silo, choice.Message);
        }
        else if (Interlocked.Exchange(ref _warnedNoCuda, 1) == 0)
        {
            context.Logger.LogWarning("Learner of run {RunId} on {Silo} {Device}", RunId, context.Silo, choice.Message);
        }
        else
        {
            context.Logger.LogInformation("Learner of run {RunId} on {Silo} trains on the CPU (no CUDA; warned above)", RunId, context.Silo);
        }

        _pinned = device;
        Device = device.type == DeviceType.CUDA ? LearnerDevice.Gpu : LearnerDevice.Cpu;
        return device.type == DeviceType.CPU ? context.SiloThread : _ownThread = new TorchWorker($"grid-learner-{RunId}");
    }

    public async ValueTask DisposeAsync()
    {
        if (_torch is null)
        {
            return;
        }

        var run = _run;
        try
        {
            await _torch.RunAsync(() =>
            {
                run?.Dispose();
                return true;
            });
        }
        catch (ObjectDisposedException)
        {
            // The silo's torch thread stopped first: the silo is going away, and its torch memory with it.
        }

        _ownThread?.Dispose();
    }
}
