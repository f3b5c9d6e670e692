using System.Diagnostics;
using Grid.Contracts.Learning;
using Grid.Contracts.Rollouts;
using Grid.Grains.Mapping;
using Grid.Grains.Rollouts;
using Grid.Hosting.Storage;
using Grid.Policy.Generation;
using Grid.Tasks;
using Grid.Tasks.Verification;
using Grid.Telemetry;
using Grid.Training.Faults;
using Grid.Training.Rollouts;
using Grid.Training.Settings;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
using Orleans.Runtime;

namespace Grid.Grains.PromptGroups;

/// <summary>
/// One prompt's G rollouts: asks the silo's rollout engine for the completions, scores them with the task's
/// verifier, computes advantages, persists, and hands the scored group to the learner. Each attempt has a timeout
/// (<see cref="RolloutSettings"/>); an attempt that throws (generation or verifier), times out, or is lost with its
/// silo is retried with backoff and a fresh sampling seed. When the retry budget is spent the whole group is marked
/// failed and the learner is told, so the step goes on without it: the learner never sees a partial group, and a
/// failure is never scored as reward 0. Attempts and retries are persisted before they count, so a group reactivated
/// on another silo carries on from its state and counts each of them once. A group that goes as planned writes its
/// state twice: the assignment with its first attempt begun, and the delivered outcome. The scored group is written
/// on its own only when the learner cannot take it at once. Randomly placed, so groups spread over the silos and
/// their rollout engines.
/// </summary>
[RandomPlacement]
public sealed class PromptGroupGrain(
    [PersistentState("group", GridStorage.Grain)] IPersistentState<PromptGroupState> state,
    RolloutEngine engine,
    ILocalSiloDetails silo,
    IServiceProvider services,
    ILogger<PromptGroupGrain> logger) : Grain, IPromptGroupGrain
{
    private readonly GridMetrics? _metrics = services.GetService<GridMetrics>();
    private IGrainTimer? _work;
    private bool _busy;
    private bool _inFlight;
    private int _unreachable;

    /// <summary>This activation began the attempt in <see cref="GroupPhase.Generating"/>; otherwise it was lost.</summary>
    private bool _attemptStarted;

    /// <summary>The state changed and the write failed: it must be written before the group counts as finished.</summary>
    private bool _unsaved;

    /// <summary>The state was deleted (<see cref="Forget"/>): nothing more runs or writes in this activation.</summary>
    private bool _forgotten;

    private string Key => this.GetPrimaryKeyString();

    /// <summary>The learner has this group's outcome; nothing is left to do but answer re-drives.</summary>
    private bool Finished => state.State.Phase == GroupPhase.Delivered
        || (state.State.Phase == GroupPhase.Failed && state.State.Reported);

    public Task<PromptGroupStatus> GetStatus() => Task.FromResult(new PromptGroupStatus(
        Key, state.State.Phase, state.State.Attempts, silo.SiloAddress.ToString(), state.State.LastError));

    /// <summary>
    /// Starts the group; idempotent, so the controller re-drives with it: a finished group hands its outcome to the
    /// learner again (a fresh learner needs it, one that has it ignores the duplicate), an unfinished one picks its
    /// work up if nothing is running it.
    /// </summary>
    public async Task Start(PromptGroupAssignment assignment)
    {
        ArgumentNullException.ThrowIfNull(assignment);
        string expected = PromptGroupKey.Create(assignment.RunId, assignment.Step, assignment.PromptIndex);
        if (expected != Key)
        {
            throw new ArgumentException($"Prompt group {Key} was given the assignment of {expected}.", nameof(assignment));
        }

        if (state.State.Assignment is { Settings: null } stored)
        {
            // Stored by an older version, whose assignments held the settings as JSON: take them from the re-drive.
            state.State.Assignment = stored with { Settings = assignment.Settings };
        }

        if (state.State.Assignment is null)
        {
            // One write records the assignment and counts the first attempt, which the work timer then runs.
            state.State.Assignment = assignment;
            await BeginAttemptAsync(unassignedIfRefused: true);
        }
        else if (state.State.Phase == GroupPhase.Delivered)
        {
            await Learner.SubmitGroup(state.State.Scored!);
        }
        else if (Finished)
        {
            await ReportFailureAsync(); // failed, and the learner had the failure: tell it again
        }

        ScheduleWork(TimeSpan.Zero);
    }

    public async Task Forget()
    {
        _forgotten = true;
        _work?.Dispose();
        _work = null;
        LeaveInFlight();
        if (state.RecordExists)
        {
            await state.ClearStateAsync();
        }

        DeactivateOnIdle();
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Reactivated (say, after a silo died or left) with unfinished work: pick it up again.
        if (state.State.Assignment is { Settings: not null } && !Finished)
        {
            // (An assignment stored without its settings, by an older version, waits for the controller's re-drive.)
            if (state.State.Attempts > 0)
            {
                logger.LogInformation("Prompt group {Key} resumes on {Silo} after {Attempts} attempt(s) (phase {Phase})",
                    Key, silo.SiloAddress, state.State.Attempts, state.State.Phase);
            }

            ScheduleWork(TimeSpan.Zero);
        }

        return base.OnActivateAsync(cancellationToken);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _work?.Dispose();
        _work = null;
        LeaveInFlight(); // unfinished work leaves with the activation; its next activation counts it there
        return base.OnDeactivateAsync(reason, cancellationToken);
    }

    private ILearnerGrain Learner => GrainFactory.GetGrain<ILearnerGrain>(state.State.Assignment!.LearnerKey);

    private void ScheduleWork(TimeSpan due)
    {
        if (_work is not null || _busy || _forgotten || (Finished && !_unsaved))
        {
            return;
        }

        if (!_inFlight)
        {
            _inFlight = true;
            _metrics?.GroupStarted(state.State.Assignment!.RunId);
        }

        _work = this.RegisterGrainTimer(RunAsync, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan)
        {
            Interleave = true, // status queries and re-drives answer while the group waits for its completions
            KeepAlive = true,
        });
    }

    private void LeaveInFlight()
    {
        if (_inFlight)
        {
            _inFlight = false;
            _metrics?.GroupFinished(state.State.Assignment!.RunId);
        }
    }

    private async Task RunAsync()
    {
        // Disposing the one-shot timer here is safe: this callback takes no cancellation token for it to cancel.
        _work?.Dispose();
        _work = null;
        _busy = true;
        TimeSpan? again;
        try
        {
            again = await AdvanceAsync();
            _unreachable = 0;
        }
        catch (Exception error)
        {
            // Storage or the learner unreachable: no attempt failed, so none is counted; try again after a backoff.
            _unreachable++;
            again = state.State.Assignment!.Settings.Rollouts.BackoffAfter(_unreachable);
            logger.LogWarning(error, "Prompt group {Key} could not save or deliver its work; trying again in {Delay}", Key, again);
        }
        finally
        {
            _busy = false;
        }

        if (again is { } delay)
        {
            ScheduleWork(delay);
        }
        else
        {
            LeaveInFlight();
        }
    }

    /// <summary>Runs the group as far as it goes now; returns the wait before it should go on (null: finished).</summary>
    private async Task<TimeSpan?> AdvanceAsync()
    {
        if (_unsaved)
        {
            await SaveAsync();
        }

        var assignment = state.State.Assignment!;
        var settings = assignment.Settings;
        if (state.State.Phase == GroupPhase.Generating && !_attemptStarted)
        {
            // Only a previous activation leaves an attempt running: it was lost with its silo. It counts as failed; the
            // next attempt starts at once, on this silo, which is not the one that failed, with the lost one's seeds.
            state.State.LostAttempts++;
            if (await FailAttemptAsync(settings, $"attempt {state.State.Attempts} was lost with its silo") is not null)
            {
                return TimeSpan.Zero;
            }
        }

        if (state.State.Phase == GroupPhase.Pending)
        {
            await BeginAttemptAsync(unassignedIfRefused: false);
        }

        if (state.State.Phase == GroupPhase.Generating)
        {
            ScoredGroupRecord scored;
            try
            {
                scored = await AttemptAsync(assignment, settings, state.State.Attempts);
            }
            catch (Exception error)
            {
                logger.LogWarning("Prompt group {Key} attempt {Attempt} failed: {Error}", Key, state.State.Attempts, error.Message);
                return await FailAttemptAsync(settings, error.Message) ?? await DeliverAsync();
            }

            _attemptStarted = false;
            state.State.Scored = scored;
            state.State.Phase = GroupPhase.Scored; // written with the delivery, or on its own if that fails
            state.State.LastError = null;
            var outcome = state.State.Attempts == 1 ? RolloutOutcome.Ok : RolloutOutcome.Retried;
            foreach (var rollout in scored.Rollouts)
            {
                _metrics?.RolloutFinished(assignment.RunId, outcome, rollout.CompletionTokens.Length);
            }
        }

        return await DeliverAsync();
    }

    /// <summary>Hands the learner the group's outcome, the scored group or its failure, and records that it has it.</summary>
    private async Task<TimeSpan?> DeliverAsync()
    {
        if (state.State.Phase == GroupPhase.Scored)
        {
            try
            {
                await Learner.SubmitGroup(state.State.Scored!);
            }
            catch
            {
                await SaveAsync(); // keep the scored work while the learner is out of reach
                throw;
            }

            state.State.Phase = GroupPhase.Delivered;
            state.State.Reported = true;
            await SaveAsync();
        }
        else if (state.State.Phase == GroupPhase.Failed && !state.State.Reported)
        {
            await ReportFailureAsync();
            state.State.Reported = true;
            await SaveAsync();
        }

        return null;
    }

    /// <summary>
    /// Writes the state; if storage refuses, the group remembers that it owes the write, and tries it again before
    /// anything else.
    /// </summary>
    private async Task SaveAsync()
    {
        if (_forgotten)
        {
            return; // a late write of a forgotten group would bring its state back
        }

        _unsaved = true;
        await state.WriteStateAsync();
        _unsaved = false;
    }

    /// <summary>
    /// Counts the next attempt before it runs; the count stays as it was if storage refuses it, and so does the
    /// assignment of a group's first write (<paramref name="unassignedIfRefused"/>), so the controller's next start
    /// tries it again.
    /// </summary>
    private async Task BeginAttemptAsync(bool unassignedIfRefused)
    {
        state.State.Attempts++;
        state.State.Phase = GroupPhase.Generating;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            state.State.Attempts--;
            state.State.Phase = GroupPhase.Pending;
            if (unassignedIfRefused)
            {
                state.State.Assignment = null;
            }

            throw;
        }

        _attemptStarted = true;
    }

    /// <summary>
    /// Records the failure of the running attempt: with budget left, the group waits for its retry (returned); with the
    /// budget spent, the whole group is failed (null) and must still tell the learner.
    /// </summary>
    private async Task<TimeSpan?> FailAttemptAsync(RunSettings settings, string error)
    {
        string runId = state.State.Assignment!.RunId;
        _attemptStarted = false;
        state.State.LastError = error;
        if (state.State.Attempts >= settings.Rollouts.MaxAttempts)
        {
            state.State.Phase = GroupPhase.Failed;
            state.State.Reported = false;
            await state.WriteStateAsync();
            logger.LogWarning("Prompt group {Key} failed after {Attempts} attempt(s); it is left out of its step. Last error: {Error}",
                Key, state.State.Attempts, error);
            for (int i = 0; i < settings.GroupSize; i++)
            {
                _metrics?.RolloutFinished(runId, RolloutOutcome.Failed);
            }

            return null;
        }

        state.State.Phase = GroupPhase.Pending;
        state.State.Retries++;
        await state.WriteStateAsync();
        _metrics?.RolloutRetried(runId);
        return settings.Rollouts.BackoffAfter(state.State.Attempts);
    }

    private Task ReportFailureAsync()
    {
        var assignment = state.State.Assignment!;
        return Learner.SubmitFailure(assignment.Step, assignment.PromptIndex, state.State.Attempts,
            $"{state.State.Attempts} attempt(s) failed; last: {state.State.LastError ?? "unknown"}");
    }

    /// <summary>One attempt within the attempt timeout; a stalled one is abandoned (and its wait cancelled).</summary>
    private async Task<ScoredGroupRecord> AttemptAsync(PromptGroupAssignment assignment, RunSettings settings, int attempt)
    {
        var timeout = TimeSpan.FromSeconds(settings.Rollouts.AttemptTimeoutSeconds);
        var fault = new FaultInjector(settings.Faults, settings.Seed).Decide(Key, state.State.Draw);
        using var abandon = new CancellationTokenSource();
        var work = ScoreAsync(assignment, settings, attempt, fault, abandon.Token);
        try
        {
            return await work.WaitAsync(timeout);
        }
        catch (TimeoutException) when (!work.IsCompleted)
        {
            throw new TimeoutException(
                $"Attempt {attempt} took longer than rollouts.attempt_timeout_seconds ({timeout.TotalSeconds:G} s).");
        }
        finally
        {
            abandon.Cancel();
        }
    }

    /// <summary>G completions of the assigned prompt from the assigned policy version, rewarded, with advantages.</summary>
    private async Task<ScoredGroupRecord> ScoreAsync(PromptGroupAssignment assignment, RunSettings settings, int attempt,
        InjectedFault fault, CancellationToken abandoned)
    {
        var task = TaskCatalog.Get(settings.Task);
        var (prompt, promptTokens) = ScoredGroups.Prompt(new PromptSource(settings.Seed), task, assignment.Step,
            assignment.PromptIndex, settings.PromptsPerStep);
        var requests = Enumerable.Range(0, settings.GroupSize)
            .Select(g => new GenerationRequest(prompt.Image, promptTokens,
                SamplingSeed.For(settings.Seed, assignment.Step, assignment.PromptIndex, g, state.State.Draw - 1)))
            .ToArray();

        var clock = Stopwatch.StartNew();
        FaultInjector.ThrowIfGenerationThrows(fault, Key, attempt);
        if (fault == InjectedFault.GenerationStalls)
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, abandoned); // a generation that never returns
        }

        var completions = await engine.GenerateAsync(new RolloutRequest(assignment.RunId, assignment.Weights,
            RunSettingsJson.ReadPolicyConfig(assignment.PolicyConfigJson),
            new GenerationSettings(settings.MaxNewTokens, settings.Temperature, settings.TopP), requests));
        double secondsRollout = clock.Elapsed.TotalSeconds;
        clock.Restart();

        // Group-scaled advantages here; with advantage_scale=batch the learner recomputes them across the step.
        FaultInjector.ThrowIfVerifierThrows(fault, Key, attempt);
        var scorer = new GroupScorer(new TaskVerifier(settings.FormatWeight), settings.AdvantageScale);
        var sampled = new SampledGroup(assignment.PromptIndex, prompt, promptTokens, scorer.ScoreRollouts(prompt, completions));
        var scored = scorer.Group(assignment.Step, [sampled])[0];
        return ScoredGroups.ToRecord(scored, assignment.Weights.Version, secondsRollout, clock.Elapsed.TotalSeconds)
            with
        { Attempts = attempt };
    }
}
