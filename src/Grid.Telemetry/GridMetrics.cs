using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Grid.Core;

namespace Grid.Telemetry;

/// <summary>
/// The <c>Grid</c> meter and every instrument on it. Grains and the trainer call the methods; OpenTelemetry's
/// Prometheus exporter turns the instruments into these names (infra/prometheus/METRICS.md has the same table):
/// <code>
/// Prometheus name                              type       labels             recorded by
/// grid_step                                    gauge      run                RecordStep (last completed step)
/// grid_run_steps                               gauge      run                RunPlanned (steps the run will take)
/// grid_policy_version                          gauge      run                RecordStep
/// grid_kl_beta                                 gauge      run                RecordStep
/// grid_reward_mean                             gauge      run, component    RecordStep (total|accuracy|format)
/// grid_reward_std                              gauge      run                RecordStep
/// grid_accuracy                                gauge      run                RecordStep
/// grid_format_rate                             gauge      run                RecordStep
/// grid_zero_std_group_fraction                 gauge      run                RecordStep
/// grid_kl_mean                                 gauge      run                RecordStep
/// grid_policy_loss                             gauge      run                RecordStep
/// grid_clip_fraction                           gauge      run, side          RecordStep (low|high|total)
/// grid_entropy                                 gauge      run                RecordStep
/// grid_completion_length_mean                  gauge      run                RecordStep (tokens)
/// grid_completion_length_max                   gauge      run                RecordStep (tokens)
/// grid_grad_norm                               gauge      run                RecordStep
/// grid_step_groups                             gauge      run                RecordStep
/// grid_step_duration_seconds                   gauge      run, phase         RecordStep (rollout|reward|reference|update|publish|validation)
/// grid_validation_accuracy                     gauge      run, task          RecordStep (steps that validate; counting|geometry)
/// grid_learner_last_step_timestamp_seconds     gauge      run                RecordStep (unix time)
/// grid_learner_resident_memory_bytes           gauge      run                RecordStep
/// grid_steps_total                             counter    run                RecordStep
/// grid_tokens_generated_total                  counter    run                RecordStep
/// grid_updates_skipped_total                   counter    run                RecordStep
/// grid_nonfinite_metrics_total                 counter    run, metric        RecordStep (a NaN/infinite value, not recorded)
/// grid_group_staleness                         histogram  run                RecordStep (one per trained group: its lag in versions)
/// grid_groups_dropped_stale_total              counter    run                RecordStep (groups beyond the staleness bound)
/// grid_importance_weight_mean                  gauge      run                RecordStep (1 when synchronous)
/// grid_importance_weight_max                   gauge      run                RecordStep (1 when synchronous)
/// grid_importance_weight_capped_fraction       gauge      run                RecordStep
/// grid_learner_idle_fraction                   gauge      run                RecordStep (share of the step waiting for groups)
/// grid_rollouts_total                          counter    run, outcome       RolloutFinished (ok|retried|failed)
/// grid_rollout_tokens_total                    counter    run                RolloutFinished
/// grid_rollout_retries_total                   counter    run                RolloutRetried
/// grid_groups_in_flight                        gauge      run                GroupStarted / GroupFinished
/// grid_engine_batch_size                       histogram  -                  EngineBatch
/// grid_engine_queue_depth                      gauge      -                  EngineQueueDepth
/// grid_rollout_engine_busy_seconds_total       counter    -                  EngineBusy (seconds with generation work in flight)
/// grid_weight_reloads_total                    counter    run                WeightsReloaded
/// grid_engine_policy_version                   gauge      run                WeightsReloaded
/// grid_learner_placement                       gauge      run, silo, device  LearnerPlaced / LearnerRemoved (gpu|cpu)
/// grid_silo_gpu_devices                        gauge      silo               SiloCapacity
/// </code>
/// Labels are bounded: a run, a silo, or a fixed set of values; never a prompt or a group.
/// A step's value that is NaN or infinite (the loss of a step whose groups all failed, say) is not recorded: its gauge
/// keeps the last finite value, and <c>grid_nonfinite_metrics_total{metric="grid_policy_loss"}</c> (the gauge's name,
/// without a unit suffix) counts the value left out, so a query finds it instead of a NaN sample.
/// </summary>
public sealed class GridMetrics : IDisposable
{
    /// <summary>The meter name to pass to <c>AddMeter</c>.</summary>
    public const string MeterName = "Grid";

    /// <summary>Orleans' own meter, exported beside ours as <c>orleans_*</c>.</summary>
    public const string OrleansMeterName = "Microsoft.Orleans";

    private static readonly RolloutOutcome[] Outcomes = Enum.GetValues<RolloutOutcome>();

    private static readonly int[] BatchSizeBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

    /// <summary>Integer lags, one bucket each up to 4, then wider: a bound (rollouts.max_staleness) beyond 16 is unusual.</summary>
    private static readonly int[] StalenessBuckets = [0, 1, 2, 3, 4, 6, 8, 12, 16];

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, LearnerPlacement> _learners = new();

    private readonly Gauge<long> _step;
    private readonly Gauge<long> _runSteps;
    private readonly Gauge<long> _policyVersion;
    private readonly Gauge<double> _beta;
    private readonly Gauge<double> _rewardMean;
    private readonly Gauge<double> _rewardStd;
    private readonly Gauge<double> _accuracy;
    private readonly Gauge<double> _formatRate;
    private readonly Gauge<double> _zeroStdGroupFraction;
    private readonly Gauge<double> _klMean;
    private readonly Gauge<double> _loss;
    private readonly Gauge<double> _clipFraction;
    private readonly Gauge<double> _entropy;
    private readonly Gauge<double> _completionLengthMean;
    private readonly Gauge<long> _completionLengthMax;
    private readonly Gauge<double> _gradNorm;
    private readonly Gauge<long> _stepGroups;
    private readonly Gauge<double> _stepDuration;
    private readonly Gauge<double> _validationAccuracy;
    private readonly Gauge<double> _lastStepTimestamp;
    private readonly Gauge<long> _residentMemory;
    private readonly Counter<long> _steps;
    private readonly Counter<long> _tokensGenerated;
    private readonly Counter<long> _updatesSkipped;
    private readonly Counter<long> _nonFinite;
    private readonly Histogram<int> _groupStaleness;
    private readonly Counter<long> _droppedStaleGroups;
    private readonly Gauge<double> _importanceWeightMean;
    private readonly Gauge<double> _importanceWeightMax;
    private readonly Gauge<double> _importanceWeightCappedFraction;
    private readonly Gauge<double> _learnerIdleFraction;

    private readonly Counter<long> _rollouts;
    private readonly Counter<long> _rolloutTokens;
    private readonly Counter<long> _rolloutRetries;
    private readonly UpDownCounter<long> _groupsInFlight;
    private readonly Histogram<int> _engineBatchSize;
    private readonly Gauge<int> _engineQueueDepth;
    private readonly Counter<double> _engineBusy;
    private readonly Counter<long> _weightReloads;
    private readonly Gauge<long> _enginePolicyVersion;
    private readonly Gauge<int> _siloGpuDevices;

    /// <summary>A meter of its own, for a process without dependency injection (the in-process trainer).</summary>
    public GridMetrics(TimeProvider? time = null)
        : this(new Meter(MeterName), ownsMeter: true, time)
    {
    }

    /// <summary>The meter from the host's factory; the host disposes it.</summary>
    public GridMetrics(IMeterFactory meterFactory, TimeProvider? time = null)
        : this((meterFactory ?? throw new ArgumentNullException(nameof(meterFactory))).Create(MeterName),
            ownsMeter: false, time)
    {
    }

    private GridMetrics(Meter meter, bool ownsMeter, TimeProvider? time)
    {
        _meter = meter;
        _ownsMeter = ownsMeter;
        _time = time ?? TimeProvider.System;

        _step = meter.CreateGauge<long>("grid_step", description: "Index of the last completed step.");
        _runSteps = meter.CreateGauge<long>("grid_run_steps",
            description: "GRPO-D steps the run will take in all; the run is finished once grid_step reaches it minus 1.");
        _policyVersion = meter.CreateGauge<long>("grid_policy_version",
            description: "Policy version the last completed step sampled from.");
        _beta = meter.CreateGauge<double>("grid_kl_beta", description: "KL coefficient beta used by the last step.");
        _rewardMean = meter.CreateGauge<double>("grid_reward_mean",
            description: "Mean reward of the last step's rollouts: total = accuracy + alpha * format, or one component.");
        _rewardStd = meter.CreateGauge<double>("grid_reward_std",
            description: "Standard deviation of the total reward over the last step's rollouts.");
        _accuracy = meter.CreateGauge<double>("grid_accuracy", description: "Share of the last step's rollouts answered right.");
        _formatRate = meter.CreateGauge<double>("grid_format_rate", description: "Share of the last step's rollouts well formed.");
        _zeroStdGroupFraction = meter.CreateGauge<double>("grid_zero_std_group_fraction",
            description: "Share of the last step's groups whose rewards were all equal (no learning signal).");
        _klMean = meter.CreateGauge<double>("grid_kl_mean", description: "Mean k3 KL to the reference policy in the last step.");
        _loss = meter.CreateGauge<double>("grid_policy_loss", description: "GRPO-D loss of the last step.");
        _clipFraction = meter.CreateGauge<double>("grid_clip_fraction",
            description: "Share of tokens whose ratio was clipped in the last step, below (low), above (high) or either (total).");
        _entropy = meter.CreateGauge<double>("grid_entropy", description: "Mean token entropy of the last step's completions.");
        _completionLengthMean = meter.CreateGauge<double>("grid_completion_length_mean",
            description: "Mean completion length of the last step, in tokens.");
        _completionLengthMax = meter.CreateGauge<long>("grid_completion_length_max",
            description: "Longest completion of the last step, in tokens.");
        _gradNorm = meter.CreateGauge<double>("grid_grad_norm", description: "Gradient norm of the last update, before clipping.");
        _stepGroups = meter.CreateGauge<long>("grid_step_groups", description: "Groups that made it into the last step.");
        _stepDuration = meter.CreateGauge<double>("grid_step_duration", unit: "s",
            description: "Seconds the last step spent in each phase.");
        _validationAccuracy = meter.CreateGauge<double>("grid_validation_accuracy",
            description: "Greedy accuracy of the latest validated policy on the task's validation prompts.");
        _lastStepTimestamp = meter.CreateGauge<double>("grid_learner_last_step_timestamp", unit: "s",
            description: "Unix time at which the learner reported the last completed step.");
        _residentMemory = meter.CreateGauge<long>("grid_learner_resident_memory", unit: "By",
            description: "Resident memory of the learner's process after the last step.");
        _steps = meter.CreateCounter<long>("grid_steps", description: "Completed steps.");
        _tokensGenerated = meter.CreateCounter<long>("grid_tokens_generated",
            description: "Completion tokens of the steps' rollouts.");
        _updatesSkipped = meter.CreateCounter<long>("grid_updates_skipped",
            description: "Steps whose update was skipped (no learning signal or a non-finite loss).");
        _nonFinite = meter.CreateCounter<long>("grid_nonfinite_metrics",
            description: "Step values that were NaN or infinite and so were not recorded, by the gauge they were for.");
        _groupStaleness = meter.CreateHistogram("grid_group_staleness",
            unit: null,
            description: "Trained groups by how many policy versions their sampling policy lagged behind the one updated.",
            tags: null,
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = StalenessBuckets });
        _droppedStaleGroups = meter.CreateCounter<long>("grid_groups_dropped_stale",
            description: "Groups the learner refused as sampled beyond rollouts.max_staleness (they were sampled again).");
        _importanceWeightMean = meter.CreateGauge<double>("grid_importance_weight_mean",
            description: "Mean importance weight pi_prox / pi_behav over the last update's tokens (1 when synchronous).");
        _importanceWeightMax = meter.CreateGauge<double>("grid_importance_weight_max",
            description: "Largest importance weight of the last update (1 when synchronous).");
        _importanceWeightCappedFraction = meter.CreateGauge<double>("grid_importance_weight_capped_fraction",
            description: "Share of the last update's tokens whose importance weight exceeded max_importance_weight.");
        _learnerIdleFraction = meter.CreateGauge<double>("grid_learner_idle_fraction",
            description: "Share of the last step's wall time the learner waited for groups (0 where not measured).");

        _rollouts = meter.CreateCounter<long>("grid_rollouts", description: "Finished rollouts by outcome.");
        _rolloutTokens = meter.CreateCounter<long>("grid_rollout_tokens",
            description: "Completion tokens generated by this silo's rollouts.");
        _rolloutRetries = meter.CreateCounter<long>("grid_rollout_retries", description: "Rollout attempts retried.");
        _groupsInFlight = meter.CreateUpDownCounter<long>("grid_groups_in_flight",
            description: "Prompt groups started and not yet finished on this silo.");
        _engineBatchSize = meter.CreateHistogram("grid_engine_batch_size",
            unit: null,
            description: "Sequences per batch of this silo's rollout engine.",
            tags: null,
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = BatchSizeBuckets });
        _engineQueueDepth = meter.CreateGauge<int>("grid_engine_queue_depth",
            description: "Requests waiting for this silo's rollout engine.");
        _engineBusy = meter.CreateCounter<double>("grid_rollout_engine_busy", unit: "s",
            description: "Seconds this silo's rollout engine had generation work in flight; 1 - its rate is the idle share.");
        _weightReloads = meter.CreateCounter<long>("grid_weight_reloads",
            description: "Times this silo's rollout engine loaded new policy weights.");
        _enginePolicyVersion = meter.CreateGauge<long>("grid_engine_policy_version",
            description: "Policy version loaded in this silo's rollout engine.");
        meter.CreateObservableGauge("grid_learner_placement", ObserveLearners,
            description: "1 for the silo and device hosting the run's learner.");
        _siloGpuDevices = meter.CreateGauge<int>("grid_silo_gpu_devices",
            description: "GPU devices this silo offers to learners (0 for a CPU-only silo).");
    }

    /// <summary>Exports every metric of one completed step (docs/algorithm.md section 8) as the run's latest values.</summary>
    public void RecordStep(string run, StepMetrics step)
    {
        var r = RunTag(run);
        ArgumentNullException.ThrowIfNull(step);
        _step.Record(step.Step, r);
        _policyVersion.Record(step.PolicyVersion, r);
        Gauge(_beta, step.Beta, r);
        Gauge(_rewardMean, step.RewardMean, r, new("component", "total"));
        Gauge(_rewardMean, step.Accuracy, r, new("component", "accuracy"));
        Gauge(_rewardMean, step.FormatRate, r, new("component", "format"));
        Gauge(_rewardStd, step.RewardStd, r);
        Gauge(_accuracy, step.Accuracy, r);
        Gauge(_formatRate, step.FormatRate, r);
        Gauge(_zeroStdGroupFraction, step.ZeroStdGroupFraction, r);
        Gauge(_klMean, step.KlMean, r);
        Gauge(_loss, step.Loss, r);
        Gauge(_clipFraction, step.ClipFractionLow, r, new("side", "low"));
        Gauge(_clipFraction, step.ClipFractionHigh, r, new("side", "high"));
        Gauge(_clipFraction, step.ClipFraction, r, new("side", "total"));
        Gauge(_entropy, step.Entropy, r);
        Gauge(_completionLengthMean, step.CompletionLengthMean, r);
        _completionLengthMax.Record(step.CompletionLengthMax, r);
        Gauge(_gradNorm, step.GradNorm, r);
        _stepGroups.Record(step.Groups, r);
        Gauge(_stepDuration, step.SecondsRollout, r, new("phase", "rollout"));
        Gauge(_stepDuration, step.SecondsReward, r, new("phase", "reward"));
        Gauge(_stepDuration, step.SecondsReference, r, new("phase", "reference"));
        Gauge(_stepDuration, step.SecondsUpdate, r, new("phase", "update"));
        Gauge(_stepDuration, step.SecondsPublish, r, new("phase", "publish"));
        Gauge(_stepDuration, step.SecondsValidation, r, new("phase", "validation"));
        if ((step.Validation ?? step.ValidationStart) is { } validation)
        {
            foreach (var (task, accuracy) in validation.Accuracy)
            {
                Gauge(_validationAccuracy, accuracy, r, new("task", task));
            }
        }

        for (int lag = 0; lag < step.StalenessGroups.Count; lag++)
        {
            for (int group = 0; group < step.StalenessGroups[lag]; group++)
            {
                _groupStaleness.Record(lag, r);
            }
        }

        _droppedStaleGroups.Add(Math.Max(0, step.DroppedStaleGroups), r);
        Gauge(_importanceWeightMean, step.ImportanceWeightMean, r);
        Gauge(_importanceWeightMax, step.ImportanceWeightMax, r);
        Gauge(_importanceWeightCappedFraction, step.ImportanceWeightCappedFraction, r);
        Gauge(_learnerIdleFraction, step.LearnerIdleFraction, r);
        _residentMemory.Record(step.ProcessRssBytes, r);
        _steps.Add(1, r);
        _tokensGenerated.Add(step.TokensGenerated, r);
        _updatesSkipped.Add(step.UpdateSkipped ? 1 : 0, r);
        _lastStepTimestamp.Record(_time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0, r);
    }

    /// <summary>Records a finite value; counts a NaN or infinite one in grid_nonfinite_metrics_total instead.</summary>
    private void Gauge(Gauge<double> gauge, double value, KeyValuePair<string, object?> run,
        KeyValuePair<string, object?>? tag = null)
    {
        if (!double.IsFinite(value))
        {
            _nonFinite.Add(1, run, new("metric", gauge.Name));
        }
        else if (tag is { } label)
        {
            gauge.Record(value, run, label);
        }
        else
        {
            gauge.Record(value, run);
        }
    }

    /// <summary>
    /// The run will take <paramref name="totalSteps"/> steps: with <c>grid_step</c> it tells a finished run (which
    /// stops stepping) from a stalled one.
    /// </summary>
    public void RunPlanned(string run, long totalSteps)
    {
        var r = RunTag(run);
        ArgumentOutOfRangeException.ThrowIfNegative(totalSteps);
        _runSteps.Record(totalSteps, r);
    }

    /// <summary>One rollout ended; <paramref name="tokens"/> is its completion length (0 if it failed).</summary>
    public void RolloutFinished(string run, RolloutOutcome outcome, long tokens = 0)
    {
        var r = RunTag(run);
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        ZeroRolloutSeries(r);
        _rollouts.Add(1, r, new("outcome", OutcomeLabel(outcome)));
        _rolloutTokens.Add(tokens, r);
    }

    /// <summary>A rollout attempt failed and will be tried again.</summary>
    public void RolloutRetried(string run) => _rolloutRetries.Add(1, RunTag(run));

    public void GroupStarted(string run)
    {
        var r = RunTag(run);
        ZeroRolloutSeries(r);
        _groupsInFlight.Add(1, r);
    }

    public void GroupFinished(string run) => _groupsInFlight.Add(-1, RunTag(run));

    /// <summary>The rollout engine ran one batch of <paramref name="sequences"/> sequences.</summary>
    public void EngineBatch(int sequences)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sequences);
        _engineBatchSize.Record(sequences);
    }

    public void EngineQueueDepth(int waitingRequests)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(waitingRequests);
        _engineQueueDepth.Record(waitingRequests);
    }

    /// <summary>
    /// The rollout engine had generation work in flight for <paramref name="seconds"/> more (added as it goes, so a
    /// long batch shows while it runs). 0 creates the series, so an engine that never served reads idle, not "no data".
    /// </summary>
    public void EngineBusy(double seconds)
    {
        if (!double.IsFinite(seconds) || seconds < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(seconds), seconds, "Expected a finite, non-negative duration.");
        }

        _engineBusy.Add(seconds);
    }

    /// <summary>The rollout engine loaded the run's weights of <paramref name="policyVersion"/>.</summary>
    public void WeightsReloaded(string run, long policyVersion)
    {
        var r = RunTag(run);
        _weightReloads.Add(1, r);
        _enginePolicyVersion.Record(policyVersion, r);
    }

    /// <summary>The run's learner is active on <paramref name="silo"/>; replaces any earlier placement.</summary>
    public void LearnerPlaced(string run, string silo, LearnerDevice device)
    {
        RunTag(run);
        ArgumentException.ThrowIfNullOrWhiteSpace(silo);
        _learners[run] = new LearnerPlacement(silo, device);
    }

    /// <summary>The run's learner left this silo (deactivated); its placement series disappears.</summary>
    public void LearnerRemoved(string run)
    {
        RunTag(run);
        _learners.TryRemove(run, out _);
    }

    /// <summary>What this silo offers learners; call once at startup.</summary>
    public void SiloCapacity(string silo, int gpuDevices)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(silo);
        ArgumentOutOfRangeException.ThrowIfNegative(gpuDevices);
        _siloGpuDevices.Record(gpuDevices, new KeyValuePair<string, object?>("silo", silo));
    }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private IEnumerable<Measurement<int>> ObserveLearners() =>
        _learners.Select(l => new Measurement<int>(1,
            new KeyValuePair<string, object?>("run", l.Key),
            new KeyValuePair<string, object?>("silo", l.Value.Silo),
            new KeyValuePair<string, object?>("device", l.Value.Device == LearnerDevice.Gpu ? "gpu" : "cpu")));

    /// <summary>
    /// Creates the run's rollout series at 0 (a counter only appears once something is added), so a run without a
    /// failure or a retry still exports <c>outcome="failed"</c> and <c>grid_rollout_retries_total</c>: the failure-rate
    /// alert and the dashboard's retry panels read 0 instead of "no data".
    /// </summary>
    private void ZeroRolloutSeries(KeyValuePair<string, object?> run)
    {
        foreach (var outcome in Outcomes)
        {
            _rollouts.Add(0, run, new("outcome", OutcomeLabel(outcome)));
        }

        _rolloutRetries.Add(0, run);
        _rolloutTokens.Add(0, run);
    }

    private static KeyValuePair<string, object?> RunTag(string run)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(run);
        return new KeyValuePair<string, object?>("run", run);
    }

    private static string OutcomeLabel(RolloutOutcome outcome) => outcome switch
    {
        RolloutOutcome.Ok => "ok",
        RolloutOutcome.Retried => "retried",
        RolloutOutcome.Failed => "failed",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, "Expected Ok, Retried or Failed."),
    };

    private sealed record LearnerPlacement(string Silo, LearnerDevice Device);
}
