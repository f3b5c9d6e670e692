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
using Grid.Telemetry;
using Grid.Training.Settings;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Polly;
using Polly.Retry;

namespace Grid.Grains.Learner;

/// <summary>
/// The run's learner, an actor shell: its identity, the bookkeeping of which step's plan and groups have arrived,
/// storage of what each step produced, and the messages. The work is the silo's strategy's
/// (<see cref="ISiloPolicy.CreateLearner"/>): for training a <see cref="ModelLearner"/>, whose policies and optimizer
/// live on a torch thread and step through the same GRPO step service as the in-process loop.
/// It collects each step's scored groups; when all are in (delivered or failed) it applies one GRPO-D update with
/// the step's beta, publishes the new weights as version step + 1, and reports the step to the controller. On steps
/// that validate the model evaluates the new policy on the validation prompts on its torch thread, right behind the
/// update (on the first step also the policy before its update); the report carries the numbers.
/// Steps are applied strictly in order and at most once: groups of an applied step, and duplicates, are ignored.
/// Every published version is a full checkpoint (weights and optimizer state, then the record naming both; see
/// <see cref="LearnerCheckpointStore"/>) before the controller hears of it, so a learner set up again from the
/// controller's version (grid resume, or its silo died) continues with no repeated and no missing version.
/// Only placed on silos declaring a GPU, or CPU-learner silos when the key allows it.
/// </summary>
[LearnerPlacement]
public sealed class LearnerGrain(IWeightStore weights, ILocalSiloDetails silo, ISiloPolicy policy,
    TorchWorker siloThread, IServiceProvider services, ILogger<LearnerGrain> logger) : Grain, ILearnerGrain
{
    /// <summary>GPUs this silo declared; a silo hosted without AddGridSilo declares none.</summary>
    private int DeclaredGpus => services.GetService<SiloCompute>()?.GpuDevices ?? 0;

    /// <summary>Rounds of the store's own retries before an applied step gives up on storage (~7 min in all).</summary>
    private const int StoreAttempts = 30;

    private static readonly TimeSpan StoreRetryDelay = TimeSpan.FromSeconds(2);

    private readonly Dictionary<long, StepPlan> _plans = new();
    private readonly Dictionary<long, SortedDictionary<int, ScoredGroupRecord>> _groups = new();
    /// <summary>Failed groups by step: prompt index to the attempts it made.</summary>
    private readonly Dictionary<long, Dictionary<int, int>> _failures = new();
    /// <summary>Groups refused as too stale, by step (counted once per prompt).</summary>
    private readonly Dictionary<long, HashSet<int>> _dropped = new();
    private readonly List<long> _published = new();
    private readonly Dictionary<long, StepReport> _reports = new();
    private readonly LearnerCheckpointStore _checkpoints = new(weights);
    private WeightReference? _latest;
    private ILearnerModel? _model;
    private RunSettings? _settings;
    private LearnerReady? _ready;
    private long _nextStep;
    private bool _applying;
    private long _updatesSkipped;

    /// <summary>When the previous update was reported (or the learner set up): the step's idle time starts there.</summary>
    private long _idleSince = Stopwatch.GetTimestamp();

    /// <summary>The silo's metrics when it serves them (AddGridTelemetry); null on a silo without.</summary>
    private GridMetrics? Metrics => services.GetService<GridMetrics>();

    private string RunId => LearnerKey.Parse(this.GetPrimaryKeyString()).RunId;

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
        _model ??= policy.CreateLearner(new LearnerContext(RunId, weights, _checkpoints, siloThread, DeclaredGpus,
            silo.SiloAddress.ToString(), logger)
        {
            Datasets = services.GetService<Datasets.SiloDatasets>(),
        });
        var start = await _model.StartAsync(setup, settings);
        _settings = settings;
        _nextStep = start.NextStep;
        _published.Add(start.Weights.Version);
        _latest = start.Weights;
        _updatesSkipped = start.UpdatesSkipped;
        _ready = new LearnerReady(start.Weights, RunSettingsJson.Write(start.Config));
        _idleSince = Stopwatch.GetTimestamp();
        foreach (var buffered in _groups.Values)
        {
            // Taken before the settings were known: a re-drive delivers them again, to be refused if too stale.
            foreach (var stale in buffered.Values.Where(TooStale).ToArray())
            {
                buffered.Remove(stale.PromptIndex);
            }
        }

        ReportPlacement();
        if (start.Restored is null)
        {
            return _ready;
        }

        TryApplyNext();
        return _ready with { Restored = start.Restored };
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

    public Task<SubmitReceipt> SubmitGroup(ScoredGroupRecord group)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (group.Step >= _nextStep && _settings is not null && _latest is not null && TooStale(group))
        {
            // Never trained on: counted with its step, and sampled again by the newest policy.
            var dropped = _dropped.TryGetValue(group.Step, out var known) ? known : _dropped[group.Step] = new();
            dropped.Add(group.PromptIndex);
            logger.LogWarning("Run {RunId}: prompt group {Step}/{Prompt} was sampled by version {Version}, more than "
                + "rollouts.max_staleness ({MaxStaleness}) behind its step; it is sampled again with version {Newest}",
                RunId, group.Step, group.PromptIndex, group.PolicyVersion, _settings.Rollouts.MaxStaleness, _latest.Version);
            return Task.FromResult(new SubmitReceipt(_latest));
        }

        if (group.Step >= _nextStep)
        {
            var step = _groups.TryGetValue(group.Step, out var existing) ? existing : _groups[group.Step] = new();
            step.TryAdd(group.PromptIndex, group);
            TryApplyNext();
        }

        return Task.FromResult(SubmitReceipt.Taken);
    }

    /// <summary>A group of step s sampled by a version older than s - rollouts.max_staleness.</summary>
    private bool TooStale(ScoredGroupRecord group) => group.Step - group.PolicyVersion > _settings!.Rollouts.MaxStaleness;

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
        _ready is null ? null : Device.ToString().ToLowerInvariant()));

    private LearnerDevice Device => _model?.Device ?? LearnerDevice.Cpu;

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        Metrics?.LearnerRemoved(RunId);
        if (_model is not null)
        {
            await _model.DisposeAsync();
        }

        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    /// <summary>Exports this silo and device as the run's learner placement, and the run's length.</summary>
    private void ReportPlacement()
    {
        Metrics?.LearnerPlaced(RunId, silo.SiloAddress.ToString(), Device);
        Metrics?.RunPlanned(RunId, _settings!.Steps);
    }

    /// <summary>Starts the next step's update once its plan and every one of its groups are in.</summary>
    private void TryApplyNext()
    {
        if (_applying || _model is null || _ready is null || !_plans.TryGetValue(_nextStep, out var plan))
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
        }, new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan)
        {
            // Groups of the next steps (rollouts.max_staleness > 0) and the next plan are taken while the update runs on
            // the torch thread and its weights are stored; held back, their calls would time out behind a long step.
            Interleave = true,
            KeepAlive = true,
        });
    }

    private async Task ApplyAsync(StepPlan plan)
    {
        long applyStarted = Stopwatch.GetTimestamp();
        var records = _groups.TryGetValue(plan.Step, out var groups) ? groups.Values.ToArray() : [];
        int failed = _failures.TryGetValue(plan.Step, out var failures) ? failures.Count : 0;
        int retried = records.Sum(r => Math.Max(0, r.Attempts - 1)) + (failures?.Values.Sum(a => Math.Max(0, a - 1)) ?? 0);
        int samples = records.Sum(r => r.Rollouts.Length);
        var work = _model!.Apply(plan, records);
        var (update, bytes) = await work.Update;

        // The update is applied in memory: from here the step must be stored, never redone, so storage outages are
        // waited out (beyond the store's own retry budget). The weights and the optimizer state are stored side by side;
        // the record that makes them a resumable checkpoint is written only once both are.
        var clock = Stopwatch.StartNew();
        long version = plan.Step + 1;
        var publishing = UntilStoredAsync($"weights version {version}", () => weights.PublishAsync(RunId, version, bytes));
        var storingState = work.OptimizerState is null
            ? Task.FromResult<OptimizerStateReference?>(null)
            : StoreOptimizerStateAsync(version, work.OptimizerState);
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
        _updatesSkipped += update.Report.Skipped ? 1 : 0;
        _plans.Remove(plan.Step);
        _groups.Remove(plan.Step);
        _failures.Remove(plan.Step);
        int droppedStale = _dropped.Remove(plan.Step, out var dropped) ? dropped.Count : 0;

        var (start, secondsStart) = await work.ValidationStart;
        var (validated, secondsValidated) = await work.Validation;
        var metrics = update.Metrics(records.Length > 0 ? records.Max(r => r.SecondsRollout) : 0,
            records.Length > 0 ? records.Max(r => r.SecondsReward) : 0,
            secondsPublish, start, validated, secondsStart + secondsValidated) with
        {
            PolicyVersion = plan.PolicyVersion,
            DroppedStaleGroups = droppedStale,
            LearnerIdleFraction = IdleFraction(applyStarted),
        };
        Metrics?.RecordStep(RunId, metrics);
        var stepReport = StepReports.From(metrics, reference, failed, samples) with
        {
            CompletedAt = DateTimeOffset.UtcNow,
            RetriedAttempts = retried,
        };
        _reports[plan.Step] = stepReport;
        await ReportAsync(stepReport);
    }

    /// <summary>
    /// The share of the time since the previous update (or set-up) the learner waited before this update started at
    /// <paramref name="applyStarted"/>; the next step's wait starts now.
    /// </summary>
    private double IdleFraction(long applyStarted)
    {
        long now = Stopwatch.GetTimestamp();
        double idle = Stopwatch.GetElapsedTime(_idleSince, applyStarted).TotalSeconds;
        double total = Stopwatch.GetElapsedTime(_idleSince, now).TotalSeconds;
        _idleSince = now;
        return total > 0 ? Math.Clamp(idle / total, 0, 1) : 0;
    }

    private async Task<OptimizerStateReference?> StoreOptimizerStateAsync(long version, Task<byte[]> serializing)
    {
        byte[] state = await serializing;
        return await UntilStoredAsync($"the optimizer state of version {version}",
            () => _checkpoints.WriteOptimizerStateAsync(RunId, version, state));
    }

    /// <summary>What a retry round is about, for its log line ("weights version 7", "step 7").</summary>
    private static readonly ResiliencePropertyKey<string> Subject = new("grid.learner.subject");

    private ResiliencePipeline? _storeRounds;
    private ResiliencePipeline? _reportAttempts;

    /// <summary>
    /// Runs a store write until it succeeds: the store retries transient errors for ~12 s, this waits out longer
    /// outages (up to <see cref="StoreAttempts"/> rounds) because giving up would lose an applied update.
    /// </summary>
    private Task<T> UntilStoredAsync<T>(string what, Func<Task<T>> write)
    {
        _storeRounds ??= new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<WeightStoreUnavailableException>(),
            MaxRetryAttempts = StoreAttempts - 1,
            BackoffType = DelayBackoffType.Constant,
            Delay = StoreRetryDelay,
            OnRetry = args =>
            {
                logger.LogWarning(args.Outcome.Exception, "Learner of run {RunId} could not store {What} (round {Attempt}); waiting for storage",
                    RunId, args.Context.Properties.GetValue(Subject, "a write"), args.AttemptNumber + 1);
                return ValueTask.CompletedTask;
            },
        }).Build();
        return RunAsync(_storeRounds, what, write);
    }

    /// <summary>Tells the controller, retrying a few times: an applied step must not go unreported.</summary>
    private Task ReportAsync(StepReport report)
    {
        var controller = GrainFactory.GetGrain<IControllerGrain>(RunId);
        _reportAttempts ??= new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<Exception>(),
            MaxRetryAttempts = 4, // 5 attempts, waiting 1, 2, 3 and 4 s between them
            BackoffType = DelayBackoffType.Linear,
            Delay = TimeSpan.FromSeconds(1),
            OnRetry = args =>
            {
                logger.LogWarning(args.Outcome.Exception, "Reporting {Step} of run {RunId} failed (attempt {Attempt})",
                    args.Context.Properties.GetValue(Subject, "a step"), RunId, args.AttemptNumber + 1);
                return ValueTask.CompletedTask;
            },
        }).Build();
        return RunAsync(_reportAttempts, $"step {report.Step}", async () =>
        {
            await controller.ReportStep(report);
            return true;
        });
    }

    /// <summary>One execution of a pipeline built once per activation, on the grain's scheduler.</summary>
    private static async Task<T> RunAsync<T>(ResiliencePipeline pipeline, string subject, Func<Task<T>> action)
    {
        var context = ResilienceContextPool.Shared.Get(continueOnCapturedContext: true); // stay on the grain's scheduler
        context.Properties.Set(Subject, subject);
        try
        {
            return await pipeline.ExecuteAsync(async _ => await action(), context);
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
            await _checkpoints.PruneAsync(RunId, saved, _settings!.CheckpointEvery, _settings.KeepAllWeights,
                _settings.Rollouts.MaxStaleness);
        }
        catch (Exception error) when (error is WeightStoreUnavailableException or IOException or InvalidOperationException)
        {
            logger.LogWarning(error, "Learner of run {RunId} could not prune old checkpoints after version {Version}", RunId, saved);
        }
    }
}
