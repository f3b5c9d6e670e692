using Grid.Contracts.Rollouts;
using Grid.Core;
using Grid.Telemetry;
using Grid.Training.Settings;

namespace Grid.Grains.PromptGroups;

/// <summary>Where a prompt group is, as its activation sees it.</summary>
public enum GroupStage
{
    /// <summary>No assignment yet (or its first write was refused).</summary>
    Unassigned,

    /// <summary>Waiting for its next attempt (the first one, or a retry after a backoff).</summary>
    Pending,

    /// <summary>Attempt <see cref="GroupMachineState.Attempts"/> was begun by this activation and has no outcome yet.</summary>
    Generating,

    /// <summary>Stored as generating by an earlier activation: that attempt was lost with its silo.</summary>
    Lost,

    /// <summary>Scored; the learner does not have it yet.</summary>
    Scored,

    /// <summary>The learner has the scored group.</summary>
    Delivered,

    /// <summary>The retry budget is spent; the learner has not been told yet.</summary>
    Failed,

    /// <summary>The retry budget is spent and the learner knows.</summary>
    FailureReported,

    /// <summary>The state was deleted: nothing more runs or writes in this activation.</summary>
    Forgotten,
}

/// <summary>
/// The prompt group's state as the machine sees it: the stage plus the persisted counts, error and scored group.
/// Immutable, so a refused write can put the previous state back.
/// </summary>
public sealed record GroupMachineState(
    GroupStage Stage,
    PromptGroupAssignment? Assignment = null,
    int Attempts = 0,
    int Retries = 0,
    int LostAttempts = 0,
    string? LastError = null,
    ScoredGroupRecord? Scored = null)
{
    public static GroupMachineState Unassigned { get; } = new(GroupStage.Unassigned);

    /// <summary>The sampling draw of the current attempt: see <see cref="PromptGroupState.Draw"/>.</summary>
    public int Draw => Attempts - LostAttempts;

    /// <summary>The learner has this group's outcome; nothing is left to do but answer re-drives.</summary>
    public bool Finished => Stage is GroupStage.Delivered or GroupStage.FailureReported;

    /// <summary>The phase reported to the controller and stored: a lost attempt is still generating there.</summary>
    public GroupPhase Phase => Stage switch
    {
        GroupStage.Generating or GroupStage.Lost => GroupPhase.Generating,
        GroupStage.Scored => GroupPhase.Scored,
        GroupStage.Delivered => GroupPhase.Delivered,
        GroupStage.Failed or GroupStage.FailureReported => GroupPhase.Failed,
        _ => GroupPhase.Pending,
    };

    /// <summary>
    /// The state a fresh activation loads. Stored records carry a phase and a "reported" flag beside it (the shape
    /// written before this machine existed, and still written): a stored attempt in progress belongs to an earlier
    /// activation, so it was lost.
    /// </summary>
    public static GroupMachineState Load(PromptGroupState stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        var stage = stored.Assignment is null ? GroupStage.Unassigned : stored.Phase switch
        {
            GroupPhase.Generating => GroupStage.Lost,
            GroupPhase.Scored => GroupStage.Scored,
            GroupPhase.Delivered => GroupStage.Delivered,
            GroupPhase.Failed => stored.Reported ? GroupStage.FailureReported : GroupStage.Failed,
            _ => GroupStage.Pending,
        };
        return new GroupMachineState(stage, stored.Assignment, stored.Attempts, stored.Retries, stored.LostAttempts,
            stored.LastError, stored.Scored);
    }

    /// <summary>Writes this state into the stored record, in the shape <see cref="Load"/> reads.</summary>
    public void Store(PromptGroupState stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        stored.Assignment = Assignment;
        stored.Phase = Phase;
        stored.Attempts = Attempts;
        stored.Retries = Retries;
        stored.LostAttempts = LostAttempts;
        stored.LastError = LastError;
        stored.Scored = Scored;
        stored.Reported = Finished;
    }
}

/// <summary>What happens to a prompt group.</summary>
public abstract record GroupEvent
{
    /// <summary>The controller starts (or re-drives) the group.</summary>
    public sealed record Assign(PromptGroupAssignment Assignment) : GroupEvent;

    /// <summary>The work timer fires: take the group as far as it goes now.</summary>
    public sealed record Advance(RolloutSettings Rules, int GroupSize) : GroupEvent;

    public sealed record AttemptSucceeded(int Attempt, ScoredGroupRecord Scored) : GroupEvent;

    public sealed record AttemptFailed(int Attempt, string Error, RolloutSettings Rules, int GroupSize) : GroupEvent;

    /// <summary>The learner took the scored group.</summary>
    public sealed record GroupSubmitted : GroupEvent;

    /// <summary>The learner could not be reached with the scored group.</summary>
    public sealed record GroupRefused : GroupEvent;

    /// <summary>
    /// The learner refused the scored group as sampled beyond rollouts.max_staleness: sample the prompt again with
    /// <see cref="Newest"/>, the learner's newest weights.
    /// </summary>
    public sealed record TooStale(WeightReference Newest) : GroupEvent;

    /// <summary>The learner took the group's failure.</summary>
    public sealed record FailureSubmitted : GroupEvent;

    /// <summary>The controller deletes the group's state.</summary>
    public sealed record Forget : GroupEvent;
}

/// <summary>How a state write is made, and what a refused one means.</summary>
public enum WriteMode
{
    /// <summary>A refused write propagates; the state stays as the machine left it, ahead of storage.</summary>
    Plain,

    /// <summary>A refused write puts the previous state back: the change did not happen.</summary>
    RollBackIfRefused,

    /// <summary>A refused write is owed: it is made again before anything else (and never after a forget).</summary>
    OweIfRefused,
}

/// <summary>What the grain does after a transition, in order.</summary>
public abstract record GroupEffect
{
    public sealed record Write(WriteMode Mode) : GroupEffect;

    /// <summary>Runs attempt <see cref="Attempt"/>; its outcome comes back as an event.</summary>
    public sealed record RunAttempt(int Attempt) : GroupEffect;

    /// <summary>Hands the learner the scored group; its answer comes back as an event.</summary>
    public sealed record SubmitGroup(ScoredGroupRecord Scored) : GroupEffect;

    /// <summary>Tells the learner the group failed; its answer comes back as an event.</summary>
    public sealed record SubmitFailure(long Step, int PromptIndex, int Attempts, string Reason) : GroupEffect;

    /// <summary>Runs the work again after <see cref="Delay"/>.</summary>
    public sealed record WaitThenAdvance(TimeSpan Delay) : GroupEffect;

    /// <summary>An attempt's rollouts finished (or, with <see cref="RolloutOutcome.Failed"/>, never will).</summary>
    public sealed record CountRollouts(RolloutOutcome Outcome, ScoredGroupRecord? Scored, int Count) : GroupEffect;

    public sealed record CountRetry : GroupEffect;

    /// <summary>The retry budget is spent: the group is left out of its step.</summary>
    public sealed record LogGroupFailed(int Attempts, string Error) : GroupEffect;

    /// <summary>Deletes the stored state and lets the activation go.</summary>
    public sealed record Clear : GroupEffect;
}

/// <summary>
/// A transition's outcome: the new state and the effects to run. An event the state does not accept leaves it
/// unchanged with no effects and says why (<see cref="Ignored"/>).
/// </summary>
public sealed record GroupTransition(GroupMachineState Next, IReadOnlyList<GroupEffect> Effects, string? Ignored = null)
{
    public bool Accepted => Ignored is null;
}

/// <summary>
/// The prompt group's life as a pure function: (state, event) gives the next state and the effects the grain runs
/// (writes, attempts, calls to the learner, timers, metrics). No Orleans here, so every transition is unit-tested.
/// <code>
/// Unassigned --Assign--> Generating (attempt 1 counted, written; a refused write stays Unassigned)
/// Pending --Advance--> Generating (next attempt counted, written; refused: stays Pending) --> RunAttempt
/// Generating --Advance--> RunAttempt
/// Generating --AttemptSucceeded--> Scored --> SubmitGroup --GroupSubmitted--> Delivered (written)
/// Generating --AttemptFailed--> Pending (retry after backoff) or Failed (budget spent)
/// Lost --Advance--> Pending (retry at once) or Failed
/// Failed --> SubmitFailure --FailureSubmitted--> FailureReported (written)
/// Scored / Delivered --TooStale--> Pending with the newest weights (written), sampled again at once
/// Delivered / FailureReported --Assign--> the learner is given the outcome again
/// any --Forget--> Forgotten, which accepts nothing
/// </code>
/// </summary>
public static class PromptGroupMachine
{
    public static GroupTransition Apply(GroupMachineState state, GroupEvent happened)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(happened);
        if (happened is GroupEvent.Forget)
        {
            return new(state with { Stage = GroupStage.Forgotten }, [new GroupEffect.Clear()]);
        }

        if (state.Stage == GroupStage.Forgotten)
        {
            return Ignore(state, $"the group was forgotten; {Name(happened)} comes too late");
        }

        return happened switch
        {
            GroupEvent.Assign assign => OnAssign(state, assign),
            GroupEvent.Advance advance => OnAdvance(state, advance),
            GroupEvent.AttemptSucceeded success => OnSuccess(state, success),
            GroupEvent.AttemptFailed failure => IsCurrent(state, failure.Attempt)
                ? FailAttempt(state, failure.Error, failure.Rules, failure.GroupSize, lost: false)
                : Ignore(state, Stale(state, failure.Attempt)),
            GroupEvent.GroupSubmitted => state.Stage switch
            {
                GroupStage.Scored => new(state with { Stage = GroupStage.Delivered }, [new GroupEffect.Write(WriteMode.OweIfRefused)]),
                GroupStage.Delivered => new(state, []), // a re-drive's resubmission: the learner still has it
                _ => Ignore(state, $"no scored group to deliver in {state.Stage}"),
            },
            GroupEvent.GroupRefused => state.Stage == GroupStage.Scored
                ? new(state, [new GroupEffect.Write(WriteMode.OweIfRefused)]) // keep the scored work while the learner is away
                : new(state, []),
            GroupEvent.TooStale stale => state.Stage is GroupStage.Scored or GroupStage.Delivered
                ? Resample(state, stale.Newest)
                : Ignore(state, $"no scored group to sample again in {state.Stage}"),
            GroupEvent.FailureSubmitted => state.Stage switch
            {
                GroupStage.Failed => new(state with { Stage = GroupStage.FailureReported }, [new GroupEffect.Write(WriteMode.OweIfRefused)]),
                GroupStage.FailureReported => new(state, []),
                _ => Ignore(state, $"no failure to report in {state.Stage}"),
            },
            _ => Ignore(state, $"unknown event {Name(happened)}"),
        };
    }

    private static GroupTransition OnAssign(GroupMachineState state, GroupEvent.Assign assign)
    {
        ArgumentNullException.ThrowIfNull(assign.Assignment);
        return state.Stage switch
        {
            // One write records the assignment and counts the first attempt, which the work then runs.
            GroupStage.Unassigned => new(state with { Stage = GroupStage.Generating, Assignment = assign.Assignment, Attempts = state.Attempts + 1 },
                [new GroupEffect.Write(WriteMode.RollBackIfRefused)]),
            GroupStage.Delivered => new(state, [new GroupEffect.SubmitGroup(state.Scored!)]),
            GroupStage.FailureReported => new(state, [FailureOf(state)]), // the learner had the failure: tell it again
            _ => new(state, []), // already assigned and under way: the work picks it up
        };
    }

    private static GroupTransition OnAdvance(GroupMachineState state, GroupEvent.Advance advance) => state.Stage switch
    {
        // Only a previous activation leaves an attempt running: it was lost with its silo. It counts as failed; the
        // next attempt starts at once, on this silo, which is not the one that failed, with the lost one's seeds.
        GroupStage.Lost => FailAttempt(state with { LostAttempts = state.LostAttempts + 1 },
            $"attempt {state.Attempts} was lost with its silo", advance.Rules, advance.GroupSize, lost: true),
        GroupStage.Pending => new(state with { Stage = GroupStage.Generating, Attempts = state.Attempts + 1 },
            [new GroupEffect.Write(WriteMode.RollBackIfRefused), new GroupEffect.RunAttempt(state.Attempts + 1)]),
        GroupStage.Generating => new(state, [new GroupEffect.RunAttempt(state.Attempts)]),
        GroupStage.Scored => new(state, [new GroupEffect.SubmitGroup(state.Scored!)]),
        GroupStage.Failed => new(state, [FailureOf(state)]),
        GroupStage.Delivered or GroupStage.FailureReported => new(state, []),
        _ => Ignore(state, "an unassigned group has no work"),
    };

    private static GroupTransition OnSuccess(GroupMachineState state, GroupEvent.AttemptSucceeded success)
    {
        if (!IsCurrent(state, success.Attempt))
        {
            return Ignore(state, Stale(state, success.Attempt));
        }

        var outcome = state.Attempts == 1 ? RolloutOutcome.Ok : RolloutOutcome.Retried;
        return new(state with { Stage = GroupStage.Scored, Scored = success.Scored, LastError = null },
        [
            new GroupEffect.CountRollouts(outcome, success.Scored, success.Scored.Rollouts.Length),
            new GroupEffect.SubmitGroup(success.Scored), // written with the delivery, or on its own if that fails
        ]);
    }

    /// <summary>
    /// The running (or lost) attempt failed: with budget left, the group waits for its retry; with the budget spent,
    /// the whole group is failed and must still tell the learner. A lost attempt's retry starts at once.
    /// </summary>
    private static GroupTransition FailAttempt(GroupMachineState state, string error, RolloutSettings rules, int groupSize,
        bool lost)
    {
        ArgumentNullException.ThrowIfNull(rules);
        state = state with { LastError = error };
        if (state.Attempts >= rules.MaxAttempts)
        {
            var failed = state with { Stage = GroupStage.Failed };
            return new(failed,
            [
                new GroupEffect.Write(WriteMode.Plain),
                new GroupEffect.LogGroupFailed(state.Attempts, error),
                new GroupEffect.CountRollouts(RolloutOutcome.Failed, null, groupSize),
                FailureOf(failed),
            ]);
        }

        return new(state with { Stage = GroupStage.Pending, Retries = state.Retries + 1 },
        [
            new GroupEffect.Write(WriteMode.Plain),
            new GroupEffect.CountRetry(),
            new GroupEffect.WaitThenAdvance(lost ? TimeSpan.Zero : rules.BackoffAfter(state.Attempts)),
        ]);
    }

    /// <summary>
    /// The scored rollouts came from a version too old for their step: they are dropped (the learner counted them) and
    /// the next attempt samples with the newest weights, at once. Not a failure (no backoff, no retry counted), but the new
    /// sample is an attempt like any other, so it counts against rollouts.max_attempts.
    /// </summary>
    private static GroupTransition Resample(GroupMachineState state, WeightReference newest)
    {
        ArgumentNullException.ThrowIfNull(newest);
        var assignment = state.Assignment!;
        string why = $"sampled by version {assignment.Weights.Version}, beyond rollouts.max_staleness for step "
            + $"{assignment.Step}; sampling again with version {newest.Version}";
        return new(state with
        {
            Stage = GroupStage.Pending,
            Assignment = assignment with { Weights = newest },
            Scored = null,
            LastError = why,
        },
        [
            new GroupEffect.Write(WriteMode.Plain),
            new GroupEffect.WaitThenAdvance(TimeSpan.Zero),
        ]);
    }

    private static GroupEffect.SubmitFailure FailureOf(GroupMachineState state) => new(state.Assignment!.Step,
        state.Assignment.PromptIndex, state.Attempts, $"{state.Attempts} attempt(s) failed; last: {state.LastError ?? "unknown"}");

    private static bool IsCurrent(GroupMachineState state, int attempt) =>
        state.Stage == GroupStage.Generating && attempt == state.Attempts;

    private static string Stale(GroupMachineState state, int attempt) =>
        $"attempt {attempt} has no outcome to give in {state.Stage} (current attempt {state.Attempts})";

    private static GroupTransition Ignore(GroupMachineState state, string why) => new(state, [], why);

    private static string Name(GroupEvent happened) => happened.GetType().Name;
}
