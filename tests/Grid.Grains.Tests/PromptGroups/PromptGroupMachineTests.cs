using Grid.Contracts.Rollouts;
using Grid.Core;
using Grid.Grains.PromptGroups;
using Grid.Telemetry;
using Grid.Training.Settings;
using static Grid.Grains.PromptGroups.GroupEffect;
using static Grid.Grains.PromptGroups.GroupEvent;

namespace Grid.Grains.Tests.PromptGroups;

/// <summary>Every transition of the prompt group's machine, the refused ones included.</summary>
public sealed class PromptGroupMachineTests
{
    private static readonly RolloutSettings Rules = new() { MaxAttempts = 3, BackoffInitialSeconds = 0.5, BackoffMaxSeconds = 10 };
    private const int GroupSize = 4;

    internal static readonly PromptGroupAssignment Assignment = new("run", 2, 5, new RunSettings(), "{}",
        new WeightReference(new Uri("file:///w/1"), 1, "abc"), "learner");

    internal static readonly ScoredGroupRecord Scored = new(2, 5, 1,
        [new RolloutRecord([1, 2, 3], [0f, 0f, 0f], "a", 1, 1, 1), new RolloutRecord([4], [0f], "b", 0, 1, 0)], [1, -1], 0.1, 0.01);

    private static GroupMachineState At(GroupStage stage, int attempts = 1, int lost = 0, string? error = null) =>
        new(stage, Assignment, attempts, Math.Max(0, attempts - 1), lost, error,
            stage is GroupStage.Scored or GroupStage.Delivered ? Scored : null);

    private static GroupTransition Apply(GroupMachineState state, GroupEvent happened) =>
        PromptGroupMachine.Apply(state, happened);

    [Fact]
    public void Assigning_a_new_group_counts_its_first_attempt_in_one_write_that_undoes_it_if_refused()
    {
        var t = Apply(GroupMachineState.Unassigned, new Assign(Assignment));
        Assert.True(t.Accepted);
        Assert.Equal(new GroupMachineState(GroupStage.Generating, Assignment, Attempts: 1), t.Next);
        Assert.Equal([new Write(WriteMode.RollBackIfRefused)], t.Effects);
    }

    [Theory]
    [InlineData(GroupStage.Pending)]
    [InlineData(GroupStage.Generating)]
    [InlineData(GroupStage.Lost)]
    [InlineData(GroupStage.Scored)]
    [InlineData(GroupStage.Failed)]
    public void A_duplicate_assignment_of_an_unfinished_group_changes_nothing(GroupStage stage)
    {
        var state = At(stage, attempts: 2);
        var t = Apply(state, new Assign(Assignment with { Weights = Assignment.Weights with { Version = 9 } }));
        Assert.Same(state, t.Next);
        Assert.Empty(t.Effects);
    }

    [Fact]
    public void A_redrive_of_a_delivered_group_hands_the_learner_its_scored_group_again()
    {
        var state = At(GroupStage.Delivered);
        var t = Apply(state, new Assign(Assignment));
        Assert.Same(state, t.Next);
        Assert.Equal([new SubmitGroup(Scored)], t.Effects);
        Assert.Same(state, Apply(state, new GroupSubmitted()).Next); // the learner's answer to the resubmission
        Assert.Empty(Apply(state, new GroupSubmitted()).Effects);
    }

    [Fact]
    public void A_redrive_of_a_reported_failure_tells_the_learner_again()
    {
        var state = At(GroupStage.FailureReported, attempts: 3, error: "boom");
        var t = Apply(state, new Assign(Assignment));
        Assert.Equal([new SubmitFailure(2, 5, 3, "3 attempt(s) failed; last: boom")], t.Effects);
        Assert.Empty(Apply(state, new FailureSubmitted()).Effects);
    }

    [Fact]
    public void Advancing_a_pending_group_counts_and_writes_its_next_attempt_then_runs_it()
    {
        var t = Apply(At(GroupStage.Pending, attempts: 1), new Advance(Rules, GroupSize));
        Assert.Equal(GroupStage.Generating, t.Next.Stage);
        Assert.Equal(2, t.Next.Attempts);
        Assert.Equal([new Write(WriteMode.RollBackIfRefused), new RunAttempt(2)], t.Effects);
    }

    [Fact]
    public void Advancing_a_generating_group_runs_its_counted_attempt()
    {
        var state = At(GroupStage.Generating, attempts: 1);
        var t = Apply(state, new Advance(Rules, GroupSize));
        Assert.Same(state, t.Next);
        Assert.Equal([new RunAttempt(1)], t.Effects);
    }

    [Fact]
    public void A_first_attempt_that_succeeds_is_scored_and_handed_to_the_learner()
    {
        var t = Apply(At(GroupStage.Generating, attempts: 1, error: "old"), new AttemptSucceeded(1, Scored));
        Assert.Equal(GroupStage.Scored, t.Next.Stage);
        Assert.Same(Scored, t.Next.Scored);
        Assert.Null(t.Next.LastError);
        Assert.Equal([new CountRollouts(RolloutOutcome.Ok, Scored, 2), new SubmitGroup(Scored)], t.Effects);
    }

    [Fact]
    public void A_later_attempt_that_succeeds_counts_its_rollouts_as_retried()
    {
        var t = Apply(At(GroupStage.Generating, attempts: 2), new AttemptSucceeded(2, Scored));
        Assert.Equal(new CountRollouts(RolloutOutcome.Retried, Scored, 2), t.Effects[0]);
    }

    [Fact]
    public void A_delivered_group_is_written_and_owes_the_write_if_refused()
    {
        var t = Apply(At(GroupStage.Scored), new GroupSubmitted());
        Assert.Equal(GroupStage.Delivered, t.Next.Stage);
        Assert.True(t.Next.Finished);
        Assert.Equal([new Write(WriteMode.OweIfRefused)], t.Effects);
    }

    [Fact]
    public void A_learner_out_of_reach_leaves_the_group_scored_and_its_work_written()
    {
        var state = At(GroupStage.Scored);
        var t = Apply(state, new GroupRefused());
        Assert.Same(state, t.Next);
        Assert.Equal([new Write(WriteMode.OweIfRefused)], t.Effects);
        Assert.Equal([new SubmitGroup(Scored)], Apply(state, new Advance(Rules, GroupSize)).Effects); // tried again
    }

    [Fact]
    public void A_failed_attempt_with_budget_left_waits_for_its_retry_with_backoff()
    {
        var t = Apply(At(GroupStage.Generating, attempts: 2), new AttemptFailed(2, "boom", Rules, GroupSize));
        Assert.Equal(GroupStage.Pending, t.Next.Stage);
        Assert.Equal(2, t.Next.Retries);
        Assert.Equal("boom", t.Next.LastError);
        Assert.Equal([new Write(WriteMode.Plain), new CountRetry(), new WaitThenAdvance(TimeSpan.FromSeconds(1))], t.Effects);
    }

    [Fact]
    public void A_failed_attempt_that_spends_the_budget_fails_the_group_and_tells_the_learner()
    {
        var t = Apply(At(GroupStage.Generating, attempts: 3), new AttemptFailed(3, "boom", Rules, GroupSize));
        Assert.Equal(GroupStage.Failed, t.Next.Stage);
        Assert.False(t.Next.Finished);
        Assert.Equal(GroupPhase.Failed, t.Next.Phase);
        Assert.Equal(
        [
            new Write(WriteMode.Plain), new LogGroupFailed(3, "boom"), new CountRollouts(RolloutOutcome.Failed, null, GroupSize),
            new SubmitFailure(2, 5, 3, "3 attempt(s) failed; last: boom"),
        ], t.Effects);

        var reported = Apply(t.Next, new FailureSubmitted());
        Assert.Equal(GroupStage.FailureReported, reported.Next.Stage);
        Assert.True(reported.Next.Finished);
        Assert.Equal([new Write(WriteMode.OweIfRefused)], reported.Effects);
    }

    [Fact]
    public void A_failed_group_whose_learner_was_out_of_reach_tells_it_at_the_next_advance()
    {
        var state = At(GroupStage.Failed, attempts: 3, error: "boom");
        Assert.Equal([new SubmitFailure(2, 5, 3, "3 attempt(s) failed; last: boom")], Apply(state, new Advance(Rules, GroupSize)).Effects);
    }

    [Fact]
    public void An_attempt_lost_with_its_silo_counts_and_is_retried_at_once_with_the_same_draw()
    {
        var t = Apply(At(GroupStage.Lost, attempts: 1), new Advance(Rules, GroupSize));
        Assert.Equal(GroupStage.Pending, t.Next.Stage);
        Assert.Equal(1, t.Next.LostAttempts);
        Assert.Equal("attempt 1 was lost with its silo", t.Next.LastError);
        Assert.Equal([new Write(WriteMode.Plain), new CountRetry(), new WaitThenAdvance(TimeSpan.Zero)], t.Effects);

        var next = Apply(t.Next, new Advance(Rules, GroupSize)).Next;
        Assert.Equal((2, 1), (next.Attempts, next.Draw)); // the second attempt samples what the lost one would have
    }

    [Fact]
    public void A_lost_last_attempt_fails_the_group()
    {
        var t = Apply(At(GroupStage.Lost, attempts: 3), new Advance(Rules, GroupSize));
        Assert.Equal(GroupStage.Failed, t.Next.Stage);
        Assert.IsType<SubmitFailure>(t.Effects[^1]);
    }

    [Theory]
    [InlineData(GroupStage.Generating, 1)] // an earlier attempt's result after a retry began
    [InlineData(GroupStage.Pending, 2)] // a result after its attempt already failed
    [InlineData(GroupStage.Lost, 2)] // a result for an attempt this activation never ran
    [InlineData(GroupStage.Scored, 2)] // a second result for the same attempt
    [InlineData(GroupStage.Delivered, 2)]
    [InlineData(GroupStage.Failed, 2)]
    public void Stale_attempt_results_are_refused(GroupStage stage, int attempt)
    {
        var state = At(stage, attempts: 2);
        foreach (GroupEvent late in new GroupEvent[] { new AttemptSucceeded(attempt, Scored), new AttemptFailed(attempt, "late", Rules, GroupSize) })
        {
            var t = Apply(state, late);
            Assert.False(t.Accepted);
            Assert.Same(state, t.Next);
            Assert.Empty(t.Effects);
        }
    }

    [Theory]
    [InlineData(GroupStage.Unassigned)]
    [InlineData(GroupStage.Pending)]
    [InlineData(GroupStage.Generating)]
    [InlineData(GroupStage.Failed)]
    [InlineData(GroupStage.FailureReported)]
    public void A_delivery_without_a_scored_group_is_refused(GroupStage stage)
    {
        Assert.False(Apply(At(stage), new GroupSubmitted()).Accepted);
    }

    [Theory]
    [InlineData(GroupStage.Unassigned)]
    [InlineData(GroupStage.Pending)]
    [InlineData(GroupStage.Scored)]
    [InlineData(GroupStage.Delivered)]
    public void A_reported_failure_without_a_failed_group_is_refused(GroupStage stage)
    {
        Assert.False(Apply(At(stage), new FailureSubmitted()).Accepted);
    }

    [Fact]
    public void An_unassigned_group_has_no_work_to_advance()
    {
        Assert.False(Apply(GroupMachineState.Unassigned, new Advance(Rules, GroupSize)).Accepted);
    }

    [Theory]
    [InlineData(GroupStage.Delivered)]
    [InlineData(GroupStage.FailureReported)]
    public void Advancing_a_finished_group_does_nothing(GroupStage stage)
    {
        var t = Apply(At(stage), new Advance(Rules, GroupSize));
        Assert.True(t.Accepted);
        Assert.Empty(t.Effects);
    }

    [Theory]
    [InlineData(GroupStage.Unassigned)]
    [InlineData(GroupStage.Pending)]
    [InlineData(GroupStage.Generating)]
    [InlineData(GroupStage.Scored)]
    [InlineData(GroupStage.Delivered)]
    [InlineData(GroupStage.FailureReported)]
    public void Forgetting_clears_the_state_from_any_stage(GroupStage stage)
    {
        var t = Apply(At(stage), new Forget());
        Assert.Equal(GroupStage.Forgotten, t.Next.Stage);
        Assert.Equal([new Clear()], t.Effects);
    }

    [Fact]
    public void A_forgotten_group_accepts_nothing_more_not_even_a_late_delivery()
    {
        var forgotten = Apply(At(GroupStage.Scored), new Forget()).Next;
        GroupEvent[] late =
        [
            new Assign(Assignment), new Advance(Rules, GroupSize), new AttemptSucceeded(1, Scored),
            new AttemptFailed(1, "late", Rules, GroupSize), new GroupSubmitted(), new GroupRefused(), new FailureSubmitted(),
        ];
        foreach (var happened in late)
        {
            var t = Apply(forgotten, happened);
            Assert.False(t.Accepted);
            Assert.Same(forgotten, t.Next);
            Assert.Empty(t.Effects);
        }
    }

    [Fact]
    public void A_whole_group_that_goes_as_planned_writes_twice()
    {
        var state = GroupMachineState.Unassigned;
        var writes = 0;
        foreach (GroupEvent happened in new GroupEvent[]
            { new Assign(Assignment), new Advance(Rules, GroupSize), new AttemptSucceeded(1, Scored), new GroupSubmitted() })
        {
            var t = Apply(state, happened);
            Assert.True(t.Accepted, t.Ignored);
            writes += t.Effects.OfType<Write>().Count();
            state = t.Next;
        }

        Assert.Equal(GroupStage.Delivered, state.Stage);
        Assert.Equal(2, writes);
    }

    [Theory]
    [InlineData(GroupStage.Scored)]
    [InlineData(GroupStage.Delivered)]
    public void A_group_refused_as_too_stale_goes_back_to_pending_with_the_newest_weights_and_samples_again_at_once(GroupStage stage)
    {
        var newest = new WeightReference(new Uri("file:///w/4"), 4, "def");
        var t = Apply(At(stage), new TooStale(newest));

        Assert.True(t.Accepted, t.Ignored);
        Assert.Equal(GroupStage.Pending, t.Next.Stage);
        Assert.Equal(newest, t.Next.Assignment!.Weights);
        Assert.Equal(Assignment with { Weights = newest }, t.Next.Assignment); // only the weights change
        Assert.Null(t.Next.Scored); // the stale rollouts are dropped
        Assert.Contains("version 1", t.Next.LastError);
        Assert.Contains("version 4", t.Next.LastError);
        Assert.Equal(1, t.Next.Attempts);
        Assert.Equal(0, t.Next.Retries); // not a failure
        Assert.Equal([new Write(WriteMode.Plain), new WaitThenAdvance(TimeSpan.Zero)], t.Effects);

        // The next attempt samples with the newest weights; the scored group then carries that version to the learner.
        var next = Apply(t.Next, new Advance(Rules, GroupSize));
        Assert.Equal(GroupStage.Generating, next.Next.Stage);
        Assert.Equal(2, next.Next.Attempts);
        Assert.Equal([new Write(WriteMode.RollBackIfRefused), new RunAttempt(2)], next.Effects);
        var rescored = Scored with { PolicyVersion = 4 };
        var delivered = Apply(next.Next, new AttemptSucceeded(2, rescored));
        Assert.Equal(GroupStage.Scored, delivered.Next.Stage);
        Assert.Contains(new SubmitGroup(rescored), delivered.Effects);
    }

    [Theory]
    [InlineData(GroupStage.Pending)]
    [InlineData(GroupStage.Generating)]
    [InlineData(GroupStage.Lost)]
    [InlineData(GroupStage.Failed)]
    [InlineData(GroupStage.FailureReported)]
    public void A_too_stale_answer_without_a_scored_group_changes_nothing(GroupStage stage)
    {
        var state = At(stage);
        var t = Apply(state, new TooStale(new WeightReference(new Uri("file:///w/4"), 4, "def")));
        Assert.False(t.Accepted);
        Assert.Same(state, t.Next);
        Assert.Empty(t.Effects);
    }
}
