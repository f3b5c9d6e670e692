using System.Diagnostics;
using Grid.Contracts.Learning;
using Grid.Contracts.Rollouts;
using Grid.Contracts.Runs;
using Grid.Core;
using Grid.Grains.Mapping;
using Grid.Grains.Rollouts;
using Grid.Grains.Torch;
using Grid.Hosting.Placement;
using Grid.Hosting.Weights;
using Grid.Tasks;
using Grid.Tasks.Images;
using Grid.Tasks.Rewards;
using Grid.Telemetry;
using Grid.Training;
using Grid.Training.Evaluation;
using Grid.Training.Learner;
using Grid.Training.Metrics;
using Grid.Training.Rollouts;
using Grid.Training.Settings;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Polly;
using Polly.Retry;

namespace Grid.Grains.Learner;

/// <summary>
/// The run's learner. Its policies and optimizer live on one torch thread (<see cref="LearnerRun"/>): on the CPU the
/// silo's rollout-engine thread, which the learner shares with generation (<see cref="RolloutEngine"/> says why); on
/// a GPU a thread of its own.
/// It collects each step's scored groups; when all are in (delivered or failed) it applies one GRPO-D update with
/// the step's beta, publishes the new weights as version step + 1, and reports the step to the controller. On steps
/// that validate (<see cref="Validator"/>) it evaluates the new policy on the validation prompts on its torch thread,
/// right behind the update (on the first step also the policy before its update); the report carries the numbers.
/// Steps are applied strictly in order and at most once: groups of an applied step, and duplicates, are ignored.
/// Every published version is a full checkpoint (weights and optimizer state, then the record naming both; see
/// <see cref="LearnerCheckpointStore"/>) before the controller hears of it, so a learner set up again from the
/// controller's version (grid resume, or its silo died) continues with no repeated and no missing version.
/// Only placed on silos declaring a GPU, or CPU-learner silos when the key allows it.
/// </summary>
[LearnerPlacement]
public sealed class LearnerGrain(IWeightStore weights, ILocalSiloDetails silo, RolloutEngineOptions rollouts,
    RolloutEngine engine, IServiceProvider services, ILogger<LearnerGrain> logger) : Grain, ILearnerGrain
{
    /// <summary>GPUs this silo declared; a silo hosted without AddGridSilo declares none.</summary>
    private int DeclaredGpus => services.GetService<SiloCompute>()?.GpuDevices ?? 0;

    /// <summary>Rounds of the store's own retries before an applied step gives up on storage (~7 min in all).</summary>
    private const int StoreAttempts = 30;

    private static readonly TimeSpan StoreRetryDelay = TimeSpan.FromSeconds(2);

    /// <summary>Stands in for the prompt in a fixed-answer step's groups; step metrics never read it.</summary>
    private static readonly TaskExample NoPrompt = new("fixed-answer", "fixed-answer", "", "", new RgbImage(1, 1, new byte[3]), "");

    private static readonly Task<(ValidationMetrics? Validation, double Seconds)> NoValidation =
        Task.FromResult<(ValidationMetrics?, double)>((null, 0));

    private readonly Dictionary<long, StepPlan> _plans = new();
    private readonly Dictionary<long, SortedDictionary<int, ScoredGroupRecord>> _groups = new();
    /// <summary>Failed groups by step: prompt index to the attempts it made.</summary>
    private readonly Dictionary<long, Dictionary<int, int>> _failures = new();
    private readonly List<long> _published = new();
    private readonly Dictionary<long, StepReport> _reports = new();
    private readonly LearnerCheckpointStore _checkpoints = new(weights);
    private WeightReference? _latest;
    private ITorchThread? _torch;
    private TorchWorker? _ownThread; // a GPU learner's
    private LearnerRun? _run;
    private RunSettings? _settings;
    private LearnerReady? _ready;
    private long _nextStep;
    private bool _applying;
    private long _updatesSkipped;
    private LearnerDevice _device = LearnerDevice.Cpu;
    private TorchSharp.torch.Device? _pinned; // set with _torch

    /// <summary>The silo's metrics when it serves them (AddGridTelemetry); null on a silo without.</summary>
    private GridMetrics? Metrics => services.GetService<GridMetrics>();

    private string RunId => LearnerKey.Parse(this.GetPrimaryKeyString()).RunId;

    /// <summary>A benchmarking silo (<see cref="RolloutPolicy.FixedAnswer"/>): no torch, no update, placeholder weights.</summary>
    private bool FixedAnswer => rollouts.Policy == RolloutPolicy.FixedAnswer;

    public async Task<LearnerReady> Initialize(LearnerSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        if (_ready is not null)
        {
            // Set up again while alive (a resume that did not need one): it is where it is, at or past the run's version.
            return setup.CurrentWeights is not null && _latest is not null ? _ready with { Weights = _latest } : _ready;
        }

        if (setup.RunId != RunId)
        {
            throw new ArgumentException($"Learner {this.GetPrimaryKeyString()} was set up for run '{setup.RunId}'.", nameof(setup));
        }

        var settings = setup.Settings;
        if (FixedAnswer)
        {
            _settings = settings;
            var placeholder = await weights.PublishAsync(RunId, 0, FixedAnswerPolicy.PlaceholderWeights(RunId, 0));
            _published.Add(0);
            _latest = placeholder;
            _ready = new LearnerReady(placeholder,
                RunSettingsJson.Write(PolicyRuntime.ConfigFor(settings.Model, settings.MaxNewTokens)));
            logger.LogWarning("Learner of run {RunId} uses the fixed-answer benchmark policy: it will not train", RunId);
            ReportPlacement();
            return _ready;
        }

        if (setup.CurrentWeights is { } current)
        {
            return await ResumeAsync(settings, setup.InitialWeights ?? throw new ArgumentException(
                "A resumed learner needs the run's initial weights (the reference policy).", nameof(setup)), current);
        }

        // A cluster client (grid submit) publishes the initial weights as version 0, because a local checkpoint path
        // on the client's machine means nothing to the silo this learner lands on.
        var published = settings.InitCheckpoint is null ? await weights.GetLatestAsync(RunId) : null;
        if (published is not null && published.Version != 0)
        {
            throw new InvalidOperationException(
                $"Run {RunId} already has weights version {published.Version}; a new learner cannot start from them.");
        }

        byte[]? publishedBytes = published is null ? null : await weights.ReadAsync(published);
        _torch ??= await TorchThreadAsync();
        var (run, initial) = await _torch.RunAsync(() =>
        {
            var run = new LearnerRun(settings, publishedBytes, device: _pinned);
            return (run, publishedBytes is null ? run.SerializeWeights() : null);
        });
        var reference = published ?? await weights.PublishAsync(RunId, 0, initial!);
        _run = run;
        _settings = settings;
        _published.Add(0);
        _latest = reference;
        _ready = new LearnerReady(reference, RunSettingsJson.Write(run.Config));
        logger.LogInformation("Learner of run {RunId} ready on {Silo}; published version 0", RunId, silo.SiloAddress);
        ReportPlacement();
        return _ready;
    }

    /// <summary>
    /// A learner lost with its silo (its silo died, or the whole cluster restarted) starts again from the checkpoint of
    /// the newest version the controller recorded: those weights and the optimizer state saved with them, the initial
    /// weights as its reference policy. A damaged checkpoint is refused and the previous good one used; the returned
    /// weights then are older than <paramref name="current"/> and <see cref="LearnerReady.Restored"/> says why.
    /// </summary>
    private async Task<LearnerReady> ResumeAsync(RunSettings settings, WeightReference initial, WeightReference current)
    {
        var restored = await _checkpoints.LoadAsync(RunId, initial, current);
        byte[] referenceBytes = restored.Weights == initial ? restored.WeightBytes : await weights.ReadAsync(initial);
        _torch ??= await TorchThreadAsync();
        _run = await _torch.RunAsync(() => new LearnerRun(settings, restored.WeightBytes, referenceBytes,
            _pinned, restored.OptimizerState));
        _settings = settings;
        _nextStep = restored.Weights.Version; // version v was published by step v - 1
        _published.Add(restored.Weights.Version);
        _latest = restored.Weights;
        _updatesSkipped = _run.UpdatesSkipped;
        string description = restored.Describe();
        _ready = new LearnerReady(restored.Weights, RunSettingsJson.Write(_run.Config));
        if (restored.Refused.Count > 0)
        {
            logger.LogError("Learner of run {RunId} on {Silo} {Restored}", RunId, silo.SiloAddress, description);
        }
        else
        {
            logger.LogInformation("Learner of run {RunId} on {Silo} {Restored}", RunId, silo.SiloAddress, description);
        }

        ReportPlacement();
        TryApplyNext();
        return _ready with { Restored = description };
    }

    public Task BeginStep(StepPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.Step >= _nextStep)
        {
            _plans.TryAdd(plan.Step, plan);
            TryApplyNext();
            return Task.CompletedTask;
        }

        // A step applied already (the controller re-drives it, say after a restart): report it again, never re-apply.
        // Not awaited: the controller is waiting for this call to return.
        if (_reports.TryGetValue(plan.Step, out var report))
        {
            _ = ReportAsync(report);
        }

        return Task.CompletedTask;
    }

    public Task SubmitGroup(ScoredGroupRecord group)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (group.Step >= _nextStep)
        {
            var step = _groups.TryGetValue(group.Step, out var existing) ? existing : _groups[group.Step] = new();
            step.TryAdd(group.PromptIndex, group);
            TryApplyNext();
        }

        return Task.CompletedTask;
    }

    public Task SubmitFailure(long step, int promptIndex, int attempts, string reason)
    {
        if (step >= _nextStep)
        {
            logger.LogDebug("Run {RunId}: prompt group {Step}/{Prompt} failed after {Attempts} attempt(s): {Reason}", RunId,
                step, promptIndex, attempts, reason);
            var failures = _failures.TryGetValue(step, out var existing) ? existing : _failures[step] = new();
            failures.TryAdd(promptIndex, attempts);
            TryApplyNext();
        }

        return Task.CompletedTask;
    }

    public Task<LearnerStatus> GetStatus() => Task.FromResult(new LearnerStatus(
        _ready is not null, _nextStep, _published.ToArray(), silo.SiloAddress.ToString(), _updatesSkipped,
        _ready is null ? null : _device.ToString().ToLowerInvariant()));

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        Metrics?.LearnerRemoved(RunId);
        if (_torch is not null)
        {
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
                // The silo's engine stopped first: the silo is going away, and its torch memory with it.
            }

            _ownThread?.Dispose();
        }

        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    /// <summary>
    /// Pins this learner to its device (remembered for the placement metric) and returns the thread for its torch
    /// work: its own when it trains on a GPU, else the silo's rollout-engine thread, so the silo's CPU torch work has
    /// one OpenMP team (<see cref="RolloutEngine"/>). Whether CUDA is there is asked on the engine's thread: even that
    /// query is torch work.
    /// </summary>
    private async Task<ITorchThread> TorchThreadAsync()
    {
        int gpus = DeclaredGpus;
        var device = await engine.RunAsync(() => PolicyRuntime.LearnerDevice(gpus));
        _pinned = device;
        _device = device.type == TorchSharp.DeviceType.CUDA ? LearnerDevice.Gpu : LearnerDevice.Cpu;
        return device.type == TorchSharp.DeviceType.CPU ? engine : _ownThread = new TorchWorker($"grid-learner-{RunId}");
    }

    /// <summary>Exports this silo and device as the run's learner placement, and the run's length.</summary>
    private void ReportPlacement()
    {
        Metrics?.LearnerPlaced(RunId, silo.SiloAddress.ToString(), _device);
        Metrics?.RunPlanned(RunId, _settings!.Steps);
    }

    /// <summary>Starts the next step's update once its plan and every one of its groups are in.</summary>
    private void TryApplyNext()
    {
        if (_applying || (_run is null && !FixedAnswer) || _ready is null || !_plans.TryGetValue(_nextStep, out var plan))
        {
            return;
        }

        var groups = _groups.GetValueOrDefault(plan.Step);
        var failures = _failures.GetValueOrDefault(plan.Step);
        if ((groups?.Count ?? 0) + (failures?.Count ?? 0) < plan.Groups)
        {
            return; // the cheap count first: this runs on every delivered group
        }

        if (groups is not null && failures is not null && groups.Keys.Union(failures.Keys).Count() < plan.Groups)
        {
            return;
        }

        _applying = true;
        IGrainTimer? timer = null;
        timer = this.RegisterGrainTimer(async () =>
        {
            timer?.Dispose();
            try
            {
                await ApplyAsync(plan);
            }
            finally
            {
                _applying = false;
            }

            TryApplyNext();
        }, new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan) { KeepAlive = true });
    }

    private async Task ApplyAsync(StepPlan plan)
    {
        var records = _groups.TryGetValue(plan.Step, out var groups) ? groups.Values.ToArray() : [];
        int failed = _failures.TryGetValue(plan.Step, out var failures) ? failures.Count : 0;
        int retried = records.Sum(r => Math.Max(0, r.Attempts - 1)) + (failures?.Values.Sum(a => Math.Max(0, a - 1)) ?? 0);
        int samples = records.Sum(r => r.Rollouts.Length);
        (LearnerStepReport Report, IReadOnlyList<ScoredGroup> Scored, byte[] Weights) update;
        Task<byte[]>? optimizerState = null;
        var validationStart = NoValidation;
        var validation = NoValidation;
        if (FixedAnswer)
        {
            update = NoUpdate(plan, records);
        }
        else
        {
            var run = _run!;
            if (run.ValidatesBefore(plan.Step))
            {
                // The curve's start (version 0), queued before the update.
                validationStart = ValidateAsync(run, plan.Step, policyVersion: 0);
            }

            var updating = _torch!.RunAsync(() => Update(run, plan, records));
            // Queued right behind the update, so it serializes the state the update left (nothing else touches this
            // run's optimizer), on the torch thread while this grain publishes the weights. It only reads the state: if
            // the update fails, it does not.
            optimizerState = _torch.RunAsync(run.SerializeOptimizer);
            if (run.ValidatesAfter(plan.Step))
            {
                // Behind those, while the weights are stored: it only reads the policy the update left.
                validation = ValidateAsync(run, plan.Step, policyVersion: plan.Step + 1);
            }

            update = await updating;
        }

        var (report, scored, bytes) = update;

        // The update is applied in memory: from here the step must be stored, never redone, so storage outages are
        // waited out (beyond the store's own retry budget). The weights and the optimizer state are stored side by side;
        // the record that makes them a resumable checkpoint is written only once both are.
        var clock = Stopwatch.StartNew();
        long version = plan.Step + 1;
        var publishing = UntilStoredAsync($"weights version {version}", () => weights.PublishAsync(RunId, version, bytes));
        var storingState = optimizerState is null
            ? Task.FromResult<OptimizerStateReference?>(null)
            : StoreOptimizerStateAsync(version, optimizerState);
        await Task.WhenAll(publishing, storingState);
        var (reference, state) = (publishing.Result, storingState.Result);
        double secondsStored = clock.Elapsed.TotalSeconds;
        if (state is not null)
        {
            await UntilStoredAsync($"the checkpoint of version {version}", () => _checkpoints.CommitAsync(RunId, reference, state));
            await PruneAsync(version);
        }

        double secondsPublish = clock.Elapsed.TotalSeconds;
        logger.LogDebug("Learner of run {RunId} stored version {Version}: weights {WeightBytes} B and optimizer state "
            + "{OptimizerBytes} B in {StoreMs:F0} ms, its checkpoint record in {CommitMs:F0} ms", RunId, version, bytes.Length,
            state?.Length ?? 0, secondsStored * 1000, (secondsPublish - secondsStored) * 1000);

        _latest = reference;
        _nextStep = plan.Step + 1;
        _published.Add(version);
        _updatesSkipped += report.Skipped ? 1 : 0;
        _plans.Remove(plan.Step);
        _groups.Remove(plan.Step);
        _failures.Remove(plan.Step);

        var (start, secondsStart) = await validationStart;
        var (validated, secondsValidated) = await validation;
        var metrics = StepMetricsBuilder.Build(plan.Step, plan.Beta, scored, report,
            records.Length > 0 ? records.Max(r => r.SecondsRollout) : 0,
            records.Length > 0 ? records.Max(r => r.SecondsReward) : 0,
            secondsPublish, start, validated, secondsStart + secondsValidated) with
        { PolicyVersion = plan.PolicyVersion };
        Metrics?.RecordStep(RunId, metrics);
        var stepReport = StepReports.From(metrics, reference, failed, samples) with
        {
            CompletedAt = DateTimeOffset.UtcNow,
            RetriedAttempts = retried,
        };
        _reports[plan.Step] = stepReport;
        await ReportAsync(stepReport);
    }

    /// <summary>On the torch thread: one GRPO-D update; returns the new weights.</summary>
    private static (LearnerStepReport Report, IReadOnlyList<ScoredGroup> Scored, byte[] Weights) Update(LearnerRun run,
        StepPlan plan, ScoredGroupRecord[] records)
    {
        var scored = run.Groups(plan.Step, records);
        var report = scored.Count > 0
            ? run.Update(scored, plan.Beta)
            : new LearnerStepReport(double.NaN, 0, 0, 0, 0, double.NaN, double.NaN, true,
                $"every group of step {plan.Step} failed", 0, 0);
        return (report, scored, run.SerializeWeights());
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
            logger.LogError(error, "Learner of run {RunId} could not validate policy version {Version} at step {Step}; "
                + "the step is reported without it", RunId, policyVersion, step);
            return (null, 0);
        }
    }

    private async Task<OptimizerStateReference?> StoreOptimizerStateAsync(long version, Task<byte[]> serializing)
    {
        byte[] state = await serializing;
        return await UntilStoredAsync($"the optimizer state of version {version}",
            () => _checkpoints.WriteOptimizerStateAsync(RunId, version, state));
    }

    /// <summary>
    /// The fixed-answer benchmark's "update": none, no torch. The groups keep their rewards for the step's metrics;
    /// their prompts are not regenerated (the metrics do not read them).
    /// </summary>
    private (LearnerStepReport Report, IReadOnlyList<ScoredGroup> Scored, byte[] Weights) NoUpdate(
        StepPlan plan, ScoredGroupRecord[] records)
    {
        var scored = records.Select(r => new ScoredGroup(r.Step, r.PromptIndex, NoPrompt, [],
            r.Rollouts.Select(x => new Rollout(x.CompletionTokens, x.SamplingLogProbs, x.Text,
                new Reward(x.Accuracy, x.Format, x.Reward))).ToArray(), r.Advantages)).ToArray();
        var report = new LearnerStepReport(0, 0, 0, 0, 0, 0, 0, true, "fixed-answer benchmark policy: nothing to train", 0, 0);
        return (report, scored, FixedAnswerPolicy.PlaceholderWeights(RunId, plan.Step + 1));
    }

    /// <summary>
    /// Runs a store write until it succeeds: the store retries transient errors for ~12 s, this waits out longer
    /// outages (up to <see cref="StoreAttempts"/> rounds) because giving up would lose an applied update.
    /// </summary>
    private async Task<T> UntilStoredAsync<T>(string what, Func<Task<T>> write)
    {
        var rounds = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<WeightStoreUnavailableException>(),
            MaxRetryAttempts = StoreAttempts - 1,
            BackoffType = DelayBackoffType.Constant,
            Delay = StoreRetryDelay,
            OnRetry = args =>
            {
                logger.LogWarning(args.Outcome.Exception, "Learner of run {RunId} could not store {What} (round {Attempt}); waiting for storage",
                    RunId, what, args.AttemptNumber + 1);
                return ValueTask.CompletedTask;
            },
        }).Build();
        var context = ResilienceContextPool.Shared.Get(continueOnCapturedContext: true); // stay on the grain's scheduler
        try
        {
            return await rounds.ExecuteAsync(async _ => await write(), context);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>Thins old checkpoints out; a failure only leaves a few megabytes behind, so it is logged, not raised.</summary>
    private async Task PruneAsync(long saved)
    {
        try
        {
            await _checkpoints.PruneAsync(RunId, saved, _settings!.CheckpointEvery);
        }
        catch (Exception error) when (error is WeightStoreUnavailableException or IOException or InvalidOperationException)
        {
            logger.LogWarning(error, "Learner of run {RunId} could not prune old checkpoints after version {Version}", RunId, saved);
        }
    }

    /// <summary>Tells the controller, retrying a few times: an applied step must not go unreported.</summary>
    private async Task ReportAsync(StepReport report)
    {
        var controller = GrainFactory.GetGrain<IControllerGrain>(RunId);
        var attempts = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<Exception>(),
            MaxRetryAttempts = 4, // 5 attempts, waiting 1, 2, 3 and 4 s between them
            BackoffType = DelayBackoffType.Linear,
            Delay = TimeSpan.FromSeconds(1),
            OnRetry = args =>
            {
                logger.LogWarning(args.Outcome.Exception, "Reporting step {Step} of run {RunId} failed (attempt {Attempt})", report.Step,
                    RunId, args.AttemptNumber + 1);
                return ValueTask.CompletedTask;
            },
        }).Build();
        var context = ResilienceContextPool.Shared.Get(continueOnCapturedContext: true); // stay on the grain's scheduler
        try
        {
            await attempts.ExecuteAsync(async _ => await controller.ReportStep(report), context);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }
}
