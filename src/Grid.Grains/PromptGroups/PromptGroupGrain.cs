using System.Diagnostics;
using Grid.Contracts.Learning;
using Grid.Contracts.Rollouts;
using Grid.Grains.Datasets;
using Grid.Grains.Mapping;
using Grid.Grains.Rollouts;
using Grid.Hosting.Storage;
using Grid.Policy.Generation;
using Grid.Policy.Prompting;
using Grid.Policy.Qwen;
using Grid.Tasks;
using Grid.Tasks.Datasets;
using Grid.Tasks.Verification;
using Grid.Telemetry;
using Grid.Training.Data;
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
/// their rollout engines. Which step comes next is decided by <see cref="PromptGroupMachine"/>; this grain runs what it
/// asks for (writes, attempts, calls to the learner, the work timer, metrics).
/// </summary>
[RandomPlacement]
public sealed class PromptGroupGrain(
    [PersistentState("group", GridStorage.Grain)] IPersistentState<PromptGroupState> state,
    RolloutEngine engine,
    SiloDatasets datasets,
    ILocalSiloDetails silo,
    IServiceProvider services,
    ILogger<PromptGroupGrain> logger) : Grain, IPromptGroupGrain
{
    private readonly GridMetrics? _metrics = services.GetService<GridMetrics>();

    /// <summary>Where the group is (<see cref="PromptGroupMachine"/>); <c>state.State</c> is its stored form.</summary>
    private GroupMachineState _group = GroupMachineState.Unassigned;

    // What runs the machine's effects in this activation: the work timer, whether its callback is running, whether
    // the group counts as in flight in the metrics, a write that was refused and is owed, and how often storage or
    // the learner was out of reach in a row.
    private IGrainTimer? _work;
    private bool _busy;
    private bool _inFlight;
    private bool _unsaved;
    private int _unreachable;

    private string Key => this.GetPrimaryKeyString();

    public Task<PromptGroupStatus> GetStatus() => Task.FromResult(new PromptGroupStatus(
        Key, _group.Phase, _group.Attempts, silo.SiloAddress.ToString(), _group.LastError));

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

        if (_group.Assignment is { Settings: null } stored)
        {
            // Stored by an older version, whose assignments held the settings as JSON: take them from the re-drive.
            _group = _group with { Assignment = stored with { Settings = assignment.Settings } };
            _group.Store(state.State);
        }

        await FireAsync(new GroupEvent.Assign(assignment));
        ScheduleWork(TimeSpan.Zero);
    }

    public Task Forget() => FireAsync(new GroupEvent.Forget());

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _group = GroupMachineState.Load(state.State);

        // Reactivated (say, after a silo died or left) with unfinished work: pick it up again.
        // (An assignment stored without its settings, by an older version, waits for the controller's re-drive.)
        if (_group.Assignment is { Settings: not null } && !_group.Finished)
        {
            if (_group.Attempts > 0)
            {
                logger.LogInformation("Prompt group {Key} resumes on {Silo} after {Attempts} attempt(s) (phase {Phase})",
                    Key, silo.SiloAddress, _group.Attempts, _group.Phase);
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
        if (_work is not null || _busy || _group.Stage == GroupStage.Forgotten || (_group.Finished && !_unsaved))
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
            _metrics?.GroupFinished(_group.Assignment!.RunId);
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
            await WriteAsync(WriteMode.OweIfRefused, _group);
        }

        var assignment = state.State.Assignment!;
        var settings = assignment.Settings;
        return await FireAsync(new GroupEvent.Advance(settings.Rollouts, settings.GroupSize), settings);
    }

    /// <summary>
    /// Moves the machine on by one event and runs the effects, following the events they give back (an attempt's
    /// outcome, the learner's answer); returns the wait before the work should go on (null: none asked for).
    /// </summary>
    private async Task<TimeSpan?> FireAsync(GroupEvent happened, RunSettings? settings = null)
    {
        var previous = _group;
        var transition = PromptGroupMachine.Apply(previous, happened);
        if (!transition.Accepted)
        {
            logger.LogDebug("Prompt group {Key} ignores {Event}: {Reason}", Key, happened.GetType().Name, transition.Ignored);
            return null;
        }

        _group = transition.Next;
        if (_group.Stage != GroupStage.Forgotten)
        {
            _group.Store(state.State);
        }

        TimeSpan? wait = null;
        foreach (var effect in transition.Effects)
        {
            switch (effect)
            {
                case GroupEffect.Write write:
                    await WriteAsync(write.Mode, previous);
                    break;
                case GroupEffect.RunAttempt run:
                    return await RunAttemptAsync(run.Attempt, settings!);
                case GroupEffect.SubmitGroup submit:
                    SubmitReceipt receipt;
                    try
                    {
                        receipt = await Learner.SubmitGroup(submit.Scored);
                    }
                    catch
                    {
                        await FireAsync(new GroupEvent.GroupRefused());
                        throw;
                    }

                    return await FireAsync(receipt.ResampleWith is { } newest
                        ? new GroupEvent.TooStale(newest)
                        : new GroupEvent.GroupSubmitted(), settings);
                case GroupEffect.SubmitFailure failure:
                    await Learner.SubmitFailure(failure.Step, failure.PromptIndex, failure.Attempts, failure.Reason);
                    return await FireAsync(new GroupEvent.FailureSubmitted(), settings);
                case GroupEffect.WaitThenAdvance next:
                    wait = next.Delay;
                    break;
                case GroupEffect.CountRollouts count:
                    CountRollouts(count);
                    break;
                case GroupEffect.CountRetry:
                    _metrics?.RolloutRetried(_group.Assignment!.RunId);
                    break;
                case GroupEffect.LogGroupFailed failed:
                    logger.LogWarning("Prompt group {Key} failed after {Attempts} attempt(s); it is left out of its step. Last error: {Error}",
                        Key, failed.Attempts, failed.Error);
                    break;
                case GroupEffect.Clear:
                    await ClearAsync();
                    break;
                default:
                    throw new InvalidOperationException($"Prompt group {Key} has no way to run {effect}.");
            }
        }

        return wait;
    }

    /// <summary>Runs one attempt and gives its outcome to the machine.</summary>
    private async Task<TimeSpan?> RunAttemptAsync(int attempt, RunSettings settings)
    {
        var assignment = _group.Assignment!;
        ScoredGroupRecord scored;
        try
        {
            scored = await AttemptAsync(assignment, settings, attempt);
        }
        catch (Exception error)
        {
            logger.LogWarning("Prompt group {Key} attempt {Attempt} failed: {Error}", Key, attempt, error.Message);
            return await FireAsync(new GroupEvent.AttemptFailed(attempt, error.Message, settings.Rollouts, settings.GroupSize), settings);
        }

        return await FireAsync(new GroupEvent.AttemptSucceeded(attempt, scored), settings);
    }

    /// <summary>
    /// Writes the state. A refused write propagates; as <paramref name="mode"/> says, it also puts
    /// <paramref name="previous"/> back (the change did not happen: an attempt is counted only once stored, and a
    /// group's first assignment is tried again by the controller's next start), or is owed and made again before
    /// anything else.
    /// </summary>
    private async Task WriteAsync(WriteMode mode, GroupMachineState previous)
    {
        switch (mode)
        {
            case WriteMode.RollBackIfRefused:
                try
                {
                    await state.WriteStateAsync();
                }
                catch
                {
                    _group = previous;
                    _group.Store(state.State);
                    throw;
                }

                break;
            case WriteMode.OweIfRefused:
                if (_group.Stage == GroupStage.Forgotten)
                {
                    return; // a late write of a forgotten group would bring its state back
                }

                _unsaved = true;
                await state.WriteStateAsync();
                _unsaved = false;
                break;
            default:
                await state.WriteStateAsync();
                break;
        }
    }

    private void CountRollouts(GroupEffect.CountRollouts count)
    {
        string runId = _group.Assignment!.RunId;
        if (count.Scored is { } scored)
        {
            foreach (var rollout in scored.Rollouts)
            {
                _metrics?.RolloutFinished(runId, count.Outcome, rollout.CompletionTokens.Length);
            }

            return;
        }

        for (int i = 0; i < count.Count; i++)
        {
            _metrics?.RolloutFinished(runId, count.Outcome);
        }
    }

    /// <summary>Deletes the state: nothing more runs or writes in this activation.</summary>
    private async Task ClearAsync()
    {
        _work?.Dispose();
        _work = null;
        LeaveInFlight();
        if (state.RecordExists)
        {
            await state.ClearStateAsync();
        }

        DeactivateOnIdle();
    }

    /// <summary>One attempt within the attempt timeout; a stalled one is abandoned (and its wait cancelled).</summary>
    private async Task<ScoredGroupRecord> AttemptAsync(PromptGroupAssignment assignment, RunSettings settings, int attempt)
    {
        var timeout = TimeSpan.FromSeconds(settings.Rollouts.AttemptTimeoutSeconds);
        var fault = new FaultInjector(settings.Faults, settings.Seed).Decide(Key, _group.Draw);
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
        TaskExample prompt;
        int[] promptTokens;
        RunData data;
        var policy = RunSettingsJson.ReadPolicyConfig(assignment.PolicyConfigJson);
        IPromptCodec? hubCodec = policy.HubCheckpoint is { } folder ? QwenPromptCodec.ForFolder(folder) : null;
        if (assignment.Dataset is { } dataset)
        {
            // Published data: the example the controller addressed, (train sha256, index), from this silo's copy.
            data = await datasets.LoadAsync(settings, dataset);
            var examples = ((DatasetTask)data.TrainTask).Examples;
            if (assignment.ExampleIndex < 0 || assignment.ExampleIndex >= examples.Count)
            {
                throw new DatasetUnavailableException($"Prompt group {Key} was given example {assignment.ExampleIndex} of the "
                    + $"dataset {dataset.Train.FileName} (sha256 {dataset.Train.Sha256}), which has {examples.Count} train examples.");
            }

            prompt = examples[assignment.ExampleIndex];
            promptTokens = (hubCodec ?? data.Tokenizer).EncodePrompt(prompt.Image, prompt.Question);
        }
        else
        {
            data = RunData.Shared(settings);
            (prompt, promptTokens) = ScoredGroups.Prompt(new PromptSource(settings.Seed), data.TrainTask, assignment.Step,
                assignment.PromptIndex, settings.PromptsPerStep, hubCodec ?? data.Tokenizer);
        }

        var requests = Enumerable.Range(0, settings.GroupSize)
            .Select(g => new GenerationRequest(prompt.Image, promptTokens,
                SamplingSeed.For(settings.Seed, assignment.Step, assignment.PromptIndex, g, _group.Draw - 1)))
            .ToArray();

        var clock = Stopwatch.StartNew();
        FaultInjector.ThrowIfGenerationThrows(fault, Key, attempt);
        if (fault == InjectedFault.GenerationStalls)
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, abandoned); // a generation that never returns
        }

        var completions = await engine.GenerateAsync(new RolloutRequest(assignment.RunId, assignment.Weights, policy,
            new GenerationSettings(settings.MaxNewTokens, settings.Temperature, settings.TopP), requests));
        double secondsRollout = clock.Elapsed.TotalSeconds;
        clock.Restart();

        // Group-scaled advantages here; with advantage_scale=batch the learner recomputes them across the step.
        FaultInjector.ThrowIfVerifierThrows(fault, Key, attempt);
        var scorer = new GroupScorer(new TaskVerifier(settings.FormatWeight), settings.AdvantageScale, hubCodec ?? data.Tokenizer);
        var sampled = new SampledGroup(assignment.PromptIndex, prompt, promptTokens, scorer.ScoreRollouts(prompt, completions));
        var scored = scorer.Group(assignment.Step, [sampled])[0];
        return ScoredGroups.ToRecord(scored, assignment.Weights.Version, secondsRollout, clock.Elapsed.TotalSeconds)
            with
        { Attempts = attempt };
    }
}
