using Grid.Contracts.Learning;
using Grid.Contracts.Rollouts;
using Grid.Contracts.Runs;
using Grid.Grains.Mapping;
using Grid.Hosting.Placement;
using Grid.Hosting.Storage;
using Grid.Hosting.Weights;
using Grid.Learning.KlControl;
using Grid.Training.Settings;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Grid.Grains.Controller;

/// <summary>
/// Owns one run (key: run id): the spec, the step counter and policy version, the KL coefficient beta for the whole
/// cluster (the configured controller; an adaptive one observes the learner's measured KL), and the step history.
/// For step s it fixes beta(s), tells the learner the plan, and starts the step's prompt groups with the policy
/// version to sample from; when the learner reports s it records it and starts s + 1. The work runs in one-shot
/// grain timers, so calls into the controller return at once. A watchdog timer (<see cref="RunWatchdog"/>) keeps the
/// step moving when silos die: it brings back the groups of a lost silo, re-drives groups that made no progress by
/// their deadline, and sets up again a learner that lost its state.
/// </summary>
public sealed class ControllerGrain(
    [PersistentState("run", GridStorage.Grain)] IPersistentState<ControllerState> state,
    IClusterMembershipService membership,
    ILogger<ControllerGrain> logger) : Grain, IControllerGrain
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(2);
    private IGrainTimer? _drive;
    private IGrainTimer? _watchdogTimer;
    private RunWatchdog? _watchdog;
    private RunSettings? _settings;
    private IKlController? _kl;

    private string RunId => this.GetPrimaryKeyString();

    private RunSettings Settings => _settings ??= RunSettingsJson.Read(state.State.Spec!.SettingsJson);

    private string LearnerGrainKey => LearnerKey.Create(RunId, state.State.Spec!.AllowCpuLearner);

    public async Task<RunStatus> Start(RunSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (state.State.Spec is null)
        {
            _settings = RunSettingsJson.Read(spec.SettingsJson); // refuse bad settings here, at the edge
            LearnerKey.Create(RunId, spec.AllowCpuLearner); // and a run id that cannot key a learner
            state.State.Spec = spec;
            state.State.State = RunState.Running;
            await state.WriteStateAsync();
            Drive(TimeSpan.Zero);
            Watch();
        }

        return Status();
    }

    public Task<RunStatus> GetStatus() => Task.FromResult(Status());

    public Task<StepReport[]> GetStepReports(long fromStep) =>
        Task.FromResult(state.State.Steps.Where(r => r.Step >= fromStep).ToArray());

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
        state.State.Steps.Add(report);
        state.State.StepsCompleted = report.Step + 1;
        state.State.PolicyVersion = report.Weights?.Version ?? state.State.PolicyVersion;
        state.State.Weights = report.Weights ?? state.State.Weights;
        if (state.State.StepsCompleted >= Settings.Steps)
        {
            state.State.State = RunState.Completed;
            logger.LogInformation("Run {RunId} completed {Steps} steps", RunId, state.State.StepsCompleted);
        }

        await state.WriteStateAsync();
        Drive(TimeSpan.Zero);
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State.State == RunState.Running)
        {
            Drive(TimeSpan.Zero); // reactivated mid-run: carry on from the persisted step
            Watch();
        }

        return base.OnActivateAsync(cancellationToken);
    }

    private RunStatus Status() => new(RunId, state.State.State, state.State.StepsCompleted,
        state.State.Spec is null ? 0 : Settings.Steps, state.State.PolicyVersion, state.State.Betas.ToArray(),
        state.State.Weights, state.State.LastError);

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
                var ready = await learner.Initialize(new LearnerSetup(RunId, state.State.Spec!.SettingsJson));
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
    /// Plans step <paramref name="step"/> with the learner and starts its groups. Every call it makes is idempotent,
    /// so re-driving a started step (resume, the watchdog) only restarts what stopped.
    /// </summary>
    private async Task StartStepAsync(long step)
    {
        var settings = Settings;
        double beta = Kl().BetaAt(step);
        if (state.State.Betas.Count == step)
        {
            state.State.Betas.Add(beta);
        }

        beta = state.State.Betas[(int)step]; // a re-driven step keeps the beta it started with
        await Learner.BeginStep(new StepPlan(step, beta, settings.PromptsPerStep, state.State.Weights!.Version));
        await Task.WhenAll(Enumerable.Range(0, settings.PromptsPerStep).Select(p => Group(step, p).Start(Assignment(step, p))));
        state.State.StartedStep = step;
        await state.WriteStateAsync();
    }

    private ILearnerGrain Learner => GrainFactory.GetGrain<ILearnerGrain>(LearnerGrainKey);

    private IPromptGroupGrain Group(long step, int promptIndex) =>
        GrainFactory.GetGrain<IPromptGroupGrain>(PromptGroupKey.Create(RunId, step, promptIndex));

    /// <summary>What group <paramref name="promptIndex"/> of the current step <paramref name="step"/> is asked to do.</summary>
    private PromptGroupAssignment Assignment(long step, int promptIndex) => new(RunId, step, promptIndex,
        state.State.Spec!.SettingsJson, state.State.PolicyConfigJson!, state.State.Weights!, LearnerGrainKey);

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
        var ready = await Learner.Initialize(new LearnerSetup(RunId, state.State.Spec!.SettingsJson, initial, state.State.Weights));
        state.State.LastError = null;
        if (ready.Weights.Version < state.State.PolicyVersion)
        {
            RollBackTo(ready.Weights); // the recorded version's checkpoint was refused: redo the steps after the good one
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
    /// reports, and their observations in the KL controller, which is rebuilt from the reports kept. The betas the
    /// steps started with stay, so the steps run again with the same beta.
    /// </summary>
    private void RollBackTo(WeightReference weights)
    {
        state.State.Steps.RemoveAll(r => r.Step >= weights.Version);
        state.State.StepsCompleted = weights.Version;
        state.State.PolicyVersion = weights.Version;
        state.State.Weights = weights;
        state.State.KlKind = null;
        _kl = null;
        var kl = Kl();
        foreach (var report in state.State.Steps)
        {
            kl.Observe(report.Step, double.IsFinite(report.KlMean) ? report.KlMean : 0, report.Samples);
        }

        Save(kl.State);
    }

    private IKlController Kl()
    {
        if (_kl is null)
        {
            var settings = KlControllerFactory.ToControllerSettings(Settings.Kl, Settings.Steps);
            _kl = state.State.KlKind is null
                ? KlControllerFactory.FromSettings(Settings.Kl, Settings.Steps)
                : settings.Restore(new KlControllerState(state.State.KlKind, state.State.KlBeta, state.State.KlLastObservedStep));
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
