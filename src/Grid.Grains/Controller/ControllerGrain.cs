using Grid.Contracts.Learning;
using Grid.Contracts.Rollouts;
using Grid.Contracts.Runs;
using Grid.Core;
using Grid.Grains.Mapping;
using Grid.Hosting.Placement;
using Grid.Hosting.Storage;
using Grid.Hosting.Weights;
using Grid.Learning.KlControl;
using Grid.Tasks.Datasets;
using Grid.Training.Settings;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Grid.Grains.Controller;

/// <summary>
/// Owns one run (key: run id): the spec, the step counter and policy version, the KL coefficient beta for the whole
/// cluster (the configured controller; an adaptive one observes the learner's measured KL), and the step history.
/// For step s it fixes beta(s), tells the learner the plan, and starts the step's prompt groups with the policy
/// version to sample from; when the learner reports s it records it (in the run's history pages,
/// <see cref="IRunHistoryGrain"/>), starts s + 1 and deletes the state of step s's prompt groups, which resume no longer
/// needs: every write stays the same size however long the run. The work runs in one-shot grain timers, so calls into
/// the controller return at once. A watchdog timer (<see cref="RunWatchdog"/>) keeps the step moving when silos die: it
/// brings back the groups of a lost silo, re-drives groups that made no progress by their deadline, and sets up again a
/// learner that lost its state. The timers die with the controller's silo; a durable reminder (Azure Table on a
/// cluster) reactivates the controller on a live silo within <see cref="KeepAlivePeriod"/>, so a running run goes on
/// with no client attached.
/// </summary>
public sealed class ControllerGrain(
    [PersistentState("run", GridStorage.Grain)] IPersistentState<ControllerState> state,
    IClusterMembershipService membership,
    ILogger<ControllerGrain> logger) : Grain, IControllerGrain, IRemindable
{
    /// <summary>How often the keep-alive reminder ticks while the run is running.</summary>
    public static readonly TimeSpan KeepAlivePeriod = GridStorage.MinimumReminderPeriod;

    /// <summary>Reports one call of <see cref="GetStepReports"/> returns at most; ask again from the next step.</summary>
    public const int MaxReportsPerCall = 1024;

    private const string KeepAlive = "keep-alive";
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(2);
    private IGrainTimer? _drive;
    private IGrainTimer? _watchdogTimer;
    private RunWatchdog? _watchdog;
    private RunSettings? _settings;
    private IKlController? _kl;

    private string RunId => this.GetPrimaryKeyString();

    private RunSettings Settings => _settings ??= state.State.Spec!.Settings;

    private string LearnerGrainKey => LearnerKey.Create(RunId, state.State.Spec!.AllowCpuLearner);

    public async Task<RunStatus> Start(RunSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (state.State.Spec is null)
        {
            spec = RunSettingsJson.Upgrade(spec);
            // Refuse bad settings here, at the edge; published data's files are on the client, not here.
            RunSettingsValidator.Validate(spec.Settings, dataFilesHere: spec.Dataset is null);
            if (spec.Dataset is { } dataset && (!spec.Settings.Data.IsSet || (dataset.Eval is null) != (spec.Settings.Data.Eval is null)))
            {
                throw new ArgumentException($"Run {RunId}'s published dataset (train {dataset.Train.FileName}, eval "
                    + $"{dataset.Eval?.FileName ?? "none"}) does not match its data settings (data.train "
                    + $"{spec.Settings.Data.Train ?? "unset"}, data.eval {spec.Settings.Data.Eval ?? "unset"}); submit it "
                    + "with grid submit, which publishes what the settings name.", nameof(spec));
            }

            _settings = spec.Settings;
            LearnerKey.Create(RunId, spec.AllowCpuLearner); // and a run id that cannot key a learner
            state.State.Spec = spec;
            state.State.State = RunState.Running;
            await state.WriteStateAsync();
            await this.RegisterOrUpdateReminder(KeepAlive, KeepAlivePeriod, KeepAlivePeriod);
            Drive(TimeSpan.Zero);
            Watch();
        }

        return Status();
    }

    public Task<RunStatus> GetStatus() => Task.FromResult(Status());

    public async Task<StepReport[]> GetStepReports(long fromStep)
    {
        var reports = new List<StepReport>();
        long last = state.State.StepsCompleted - 1;
        for (long page = RunHistoryPage.Of(Math.Max(0, fromStep)); page <= RunHistoryPage.Of(last) && last >= 0; page++)
        {
            reports.AddRange((await History(page).Read(fromStep)).Select(r => r.Report).Where(r => r.Step <= last));
            if (reports.Count >= MaxReportsPerCall)
            {
                break;
            }
        }

        return reports.Take(MaxReportsPerCall).ToArray();
    }

    /// <summary>The keep-alive reminder: reactivates the controller after its silo died, and ends once the run has.</summary>
    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (state.State.State == RunState.Running)
        {
            Drive(TimeSpan.Zero);
            Watch();
        }
        else
        {
            await StopKeepAliveAsync();
        }
    }

    public async Task<RunStatus> Resume()
    {
        if (state.State.State == RunState.Running && state.State.Weights is not null)
        {
            await ReinitializeLearnerAsync();
        }

        Drive(TimeSpan.Zero);
        Watch();
        return Status();
    }

    public async Task ReportStep(StepReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (state.State.State != RunState.Running || report.Step != state.State.StepsCompleted)
        {
            logger.LogDebug("Run {RunId} ignores the report of step {Step} (next expected: {Next})",
                RunId, report.Step, state.State.StepsCompleted);
            return;
        }

        var kl = Kl();
        kl.Observe(report.Step, double.IsFinite(report.KlMean) ? report.KlMean : 0, report.Samples);
        Save(kl.State);
        // The history first: if the controller's write below fails, the learner reports again and the page replaces it.
        await History(RunHistoryPage.Of(report.Step)).Append(
            StepRecord.Of(report, kl.State));
        state.State.StepsCompleted = report.Step + 1;
        state.State.PolicyVersion = report.Weights?.Version ?? state.State.PolicyVersion;
        state.State.Weights = report.Weights ?? state.State.Weights;
        if (state.State.StepsCompleted >= Settings.Steps)
        {
            state.State.State = RunState.Completed;
            logger.LogInformation("Run {RunId} completed {Steps} steps", RunId, state.State.StepsCompleted);
        }

        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // This activation counts a step its storage does not hold: the learner's retry must meet the stored state.
            DeactivateOnIdle();
            throw;
        }

        if (state.State.State != RunState.Running)
        {
            await StopKeepAliveAsync();
        }

        Drive(TimeSpan.Zero);
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State.Spec is { } stored && RunSettingsJson.Upgrade(stored) is var spec && !ReferenceEquals(spec, stored))
        {
            // A run started by an older version stored its settings as JSON; it goes on with them as the record (the
            // next write stores the new shape).
            RunSettingsValidator.Validate(spec.Settings, dataFilesHere: spec.Dataset is null);
            state.State.Spec = spec;
        }

        if (state.State.LegacySteps is { Count: > 0 } || state.State.LegacyBetas is { Count: > 0 })
        {
            await MoveLegacyHistoryAsync();
        }

        if (state.State.State == RunState.Running)
        {
            Drive(TimeSpan.Zero); // reactivated mid-run: carry on from the persisted step
            Watch();
        }

        await base.OnActivateAsync(cancellationToken);
    }

    private RunStatus Status() => new(RunId, state.State.State, state.State.StepsCompleted,
        state.State.Spec is null ? 0 : Settings.Steps, state.State.PolicyVersion,
        state.State.BetaStep >= 0 ? state.State.StepBeta : null, state.State.Weights, state.State.LastError);

    private IRunHistoryGrain History(long page) => GrainFactory.GetGrain<IRunHistoryGrain>(RunHistoryPage.Key(RunId, page));

    private async Task StopKeepAliveAsync()
    {
        try
        {
            if (await this.GetReminder(KeepAlive) is { } reminder)
            {
                await this.UnregisterReminder(reminder);
            }
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            // The next tick tries again: it finds the run finished.
            logger.LogWarning(error, "Run {RunId} is {State} but its keep-alive reminder could not be removed yet", RunId,
                state.State.State);
        }
    }

    /// <summary>
    /// A run persisted by a version that kept its step history in the controller's state: the reports move to the
    /// history pages (each with the KL controller's current state, the best this version knows) and leave the state.
    /// </summary>
    private async Task MoveLegacyHistoryAsync()
    {
        var kl = Kl().State;
        foreach (var report in state.State.LegacySteps ?? [])
        {
            await History(RunHistoryPage.Of(report.Step)).Append(
                StepRecord.Of(report, kl));
        }

        if (state.State.LegacyBetas is { Count: > 0 } betas && betas.Count > state.State.StepsCompleted)
        {
            state.State.BetaStep = state.State.StepsCompleted;
            state.State.StepBeta = betas[(int)state.State.StepsCompleted];
        }

        state.State.LegacySteps = null;
        state.State.LegacyBetas = null;
        await state.WriteStateAsync();
        logger.LogInformation("Run {RunId}: moved its step history out of the controller's state", RunId);
    }

    private void Drive(TimeSpan due)
    {
        if (_drive is not null || state.State.State != RunState.Running)
        {
            return;
        }

        _drive = this.RegisterGrainTimer(AdvanceAsync,
            new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { KeepAlive = true });
    }

    /// <summary>Does whatever the run needs next: initial weights, or the next step's groups.</summary>
    private async Task AdvanceAsync()
    {
        // Disposing the one-shot timer here is safe: this callback takes no cancellation token for it to cancel.
        _drive?.Dispose();
        _drive = null;
        try
        {
            if (state.State.Weights is null)
            {
                var learner = GrainFactory.GetGrain<ILearnerGrain>(LearnerGrainKey);
                var ready = await learner.Initialize(new LearnerSetup(RunId, Settings) { Dataset = Dataset });
                state.State.Weights = ready.Weights;
                state.State.InitialWeights = ready.Weights;
                state.State.PolicyConfigJson = ready.PolicyConfigJson;
                state.State.PolicyVersion = ready.Weights.Version;
                await state.WriteStateAsync();
            }

            if (state.State.State == RunState.Running && state.State.StartedStep < state.State.StepsCompleted)
            {
                await StartStepAsync(state.State.StepsCompleted);
            }

            state.State.LastError = null;
            await ForgetFinishedGroupsAsync();
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            // No learner silo yet, a silo going away, storage hiccups: say why, wait, try again.
            logger.LogWarning(error, "Run {RunId} cannot advance; retrying in {Delay}", RunId, RetryDelay);
            state.State.LastError = error.Message;
            Drive(RetryDelay);
        }
    }

    /// <summary>
    /// Plans step <paramref name="step"/> with the learner and starts its groups; with rollouts.max_staleness k &gt; 0
    /// also the groups of steps step + 1 .. step + k not started yet, with the newest weights (version step), so they
    /// generate while the learner updates: a group of step t is then sampled by a version &gt;= t - k. Every call it makes
    /// is idempotent (a started group keeps the weights it was first given), so re-driving a started step (resume, the
    /// watchdog) only restarts what stopped, and hands a new learner what the groups of the step had delivered.
    /// </summary>
    private async Task StartStepAsync(long step)
    {
        var settings = Settings;
        if (state.State.BetaStep != step)
        {
            state.State.BetaStep = step;
            state.State.StepBeta = Kl().BetaAt(step);
        }

        double beta = state.State.StepBeta; // a re-driven step keeps the beta it started with
        var plan = new StepPlan(step, beta, settings.PromptsPerStep, state.State.Weights!.Version);
        // The step's own groups, then the plan, then the groups ahead. A group that already delivered (started ahead,
        // or re-driven) hands its scored group to the learner inside Start; were the plan already given, the learner
        // could be applying the step, a turn that ends only when this controller takes its report, which waits for
        // this call to end. Given right after them, the plan reaches the learner before the groups ahead are started
        // and stored, which the learner does not need: it updates while they start.
        await StartGroupsAsync(step);
        await Learner.BeginStep(plan);
        long aheadThrough = Math.Min(step + settings.Rollouts.MaxStaleness, settings.Steps - 1);
        for (long ahead = Math.Max(step, state.State.StartedAheadThrough) + 1; ahead <= aheadThrough; ahead++)
        {
            await StartGroupsAsync(ahead);
            state.State.StartedAheadThrough = ahead;
        }

        state.State.StartedStep = step;
        await state.WriteStateAsync();
    }

    private Task StartGroupsAsync(long step) =>
        Task.WhenAll(Enumerable.Range(0, Settings.PromptsPerStep).Select(p => Group(step, p).Start(Assignment(step, p))));

    private ILearnerGrain Learner => GrainFactory.GetGrain<ILearnerGrain>(LearnerGrainKey);

    private IPromptGroupGrain Group(long step, int promptIndex) =>
        GrainFactory.GetGrain<IPromptGroupGrain>(PromptGroupKey.Create(RunId, step, promptIndex));

    /// <summary>
    /// What group <paramref name="promptIndex"/> of step <paramref name="step"/> (the current one, or one of the next k)
    /// is asked to do: sample with the newest weights.
    /// </summary>
    private PromptGroupAssignment Assignment(long step, int promptIndex) => new(RunId, step, promptIndex,
        Settings, state.State.PolicyConfigJson!, state.State.Weights!, LearnerGrainKey)
    {
        Dataset = Dataset,
        // The example the in-process loop draws for this prompt (PromptSource.ForStep on a DatasetTask), by its index.
        ExampleIndex = Dataset is { } data
            ? DatasetTask.IndexAt(data.TrainTask, Settings.Seed, (step * Settings.PromptsPerStep) + promptIndex, data.TrainExamples)
            : 0,
    };

    private RunDataset? Dataset => state.State.Spec!.Dataset;

    /// <summary>
    /// Sets up a learner that lost its state (a full cluster restart, or its silo died) from the recorded weights, the
    /// newest as its policy and the initial ones as its reference, then re-drives the current step: its delivered
    /// groups hand their persisted scored groups to the new learner, the others carry on. Used by <see cref="Resume"/>
    /// and by the watchdog.
    /// </summary>
    private async Task ReinitializeLearnerAsync()
    {
        var initial = state.State.InitialWeights ?? throw new InvalidOperationException(
            $"Run {RunId} has no recorded initial weights (it started before resume existed); it cannot be resumed.");
        var ready = await Learner.Initialize(new LearnerSetup(RunId, Settings, initial, state.State.Weights) { Dataset = Dataset });
        state.State.LastError = null;
        if (ready.Weights.Version < state.State.PolicyVersion)
        {
            await RollBackToAsync(ready.Weights); // the recorded version's checkpoint was refused: redo the steps after the good one
            state.State.LastError = $"The learner {ready.Restored}; steps from {ready.Weights.Version} on run again.";
            logger.LogError("Run {RunId}: {Error}", RunId, state.State.LastError);
        }

        state.State.StartedStep = state.State.StepsCompleted - 1; // re-drive the current step
        await state.WriteStateAsync();
        Drive(TimeSpan.Zero);
    }

    /// <summary>Starts the watchdog's timer for a running run (once per activation).</summary>
    private void Watch()
    {
        if (_watchdogTimer is not null || state.State.State != RunState.Running)
        {
            return;
        }

        var rollouts = Settings.Rollouts;
        _watchdog = new RunWatchdog(rollouts, logger);
        var interval = TimeSpan.FromSeconds(rollouts.WatchdogIntervalSeconds);
        _watchdogTimer = this.RegisterGrainTimer(WatchAsync, new GrainTimerCreationOptions(interval, interval) { KeepAlive = true });
    }

    /// <summary>One watchdog tick: a learner that lost its state is set up again; the current step's groups are checked.</summary>
    private async Task WatchAsync()
    {
        if (state.State.State != RunState.Running)
        {
            _watchdogTimer?.Dispose(); // finished or failed: nothing left to watch
            _watchdogTimer = null;
            return;
        }

        if (state.State.Weights is null || state.State.StartedStep < state.State.StepsCompleted)
        {
            return; // the learner is being set up or the step being started; AdvanceAsync owns both
        }

        try
        {
            if (await _watchdog!.LearnerLostAsync(Learner))
            {
                logger.LogWarning("Run {RunId}: the learner lost its state (its silo is gone); setting it up again at step {Step}",
                    RunId, state.State.StepsCompleted);
                await ReinitializeLearnerAsync();
                return;
            }

            long step = state.State.StepsCompleted;
            var stalled = await _watchdog.CheckGroupsAsync(step, Settings.PromptsPerStep, p => Group(step, p),
                membership.CurrentSnapshot.Version.Value);
            if (_watchdog.StepStalled)
            {
                // Nothing moved for a whole deadline, groups or learner: plan the step and start its groups again.
                logger.LogWarning("Run {RunId}: step {Step} made no progress for {Deadline} s; re-driving it",
                    RunId, step, Settings.Rollouts.GroupDeadlineSeconds);
                _watchdog.Redriven();
                await StartStepAsync(step);
            }
            else
            {
                await Task.WhenAll(stalled.Select(p => _watchdog.RedriveAsync(Group(step, p), Assignment(step, p))));
            }
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            logger.LogWarning(error, "Run {RunId}: the watchdog could not check step {Step}; it tries again next tick",
                RunId, state.State.StepsCompleted);
        }
    }

    /// <summary>
    /// Forgets the steps after <paramref name="weights"/> (the learner resumed from that older checkpoint): their
    /// records, and their observations in the KL controller, which goes back to its state after the last step kept. The
    /// first step to run again keeps the beta it started with; the later ones take the restored controller's.
    /// </summary>
    private async Task RollBackToAsync(WeightReference weights)
    {
        long from = weights.Version;
        var first = (await History(RunHistoryPage.Of(from)).Read(from)).FirstOrDefault(r => r.Report.Step == from);
        var kept = from == 0 ? null : (await History(RunHistoryPage.Of(from - 1)).Read(from - 1)).FirstOrDefault();
        for (long page = RunHistoryPage.Of(from); page <= RunHistoryPage.Of(Math.Max(from, state.State.StepsCompleted - 1)); page++)
        {
            await History(page).Truncate(from);
        }

        state.State.StepsCompleted = from;
        state.State.PolicyVersion = from;
        state.State.Weights = weights;
        state.State.ForgottenThrough = Math.Min(state.State.ForgottenThrough, from - 1);
        if (first is not null)
        {
            state.State.BetaStep = from;
            state.State.StepBeta = first.Report.Beta;
        }

        _kl = null;
        if (kept is null)
        {
            state.State.KlKind = null; // back before step 0: Kl() starts a fresh controller
        }
        else
        {
            Save(kept.Kl);
        }

        Save(Kl().State);
    }

    /// <summary>
    /// Deletes the state of the prompt groups of recorded steps older than the newest
    /// <see cref="RolloutSettings.KeptGroupSteps"/>: once a step's update is recorded, nothing (resume included) needs
    /// its groups again. A group that cannot be reached now is tried again after the next step.
    /// </summary>
    private async Task ForgetFinishedGroupsAsync()
    {
        if (state.State.Spec is null)
        {
            return;
        }

        long through = state.State.StepsCompleted - 1 - Settings.Rollouts.KeptGroupSteps;
        if (state.State.ForgottenThrough >= through)
        {
            return;
        }

        int prompts = Settings.PromptsPerStep;
        try
        {
            for (long step = state.State.ForgottenThrough + 1; step <= through; step++)
            {
                await Task.WhenAll(Enumerable.Range(0, prompts).Select(p => Group(step, p).Forget()));
                state.State.ForgottenThrough = step;
            }
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            logger.LogWarning(error, "Run {RunId}: the prompt groups of step {Step} could not delete their state yet; "
                + "trying again after the next step", RunId, state.State.ForgottenThrough + 1);
        }

        await state.WriteStateAsync();
    }

    private IKlController Kl()
    {
        if (_kl is null)
        {
            _kl = state.State.KlKind is null
                ? KlControllers.Create(Settings.Kl, Settings.Steps)
                : KlControllers.Restore(Settings.Kl, Settings.Steps, new KlControllerState(state.State.KlKind, state.State.KlBeta, state.State.KlLastObservedStep));
            Save(_kl.State);
        }

        return _kl;
    }

    private void Save(KlControllerState kl)
    {
        state.State.KlKind = kl.Kind;
        state.State.KlBeta = kl.CurrentBeta;
        state.State.KlLastObservedStep = kl.LastObservedStep;
    }
}
