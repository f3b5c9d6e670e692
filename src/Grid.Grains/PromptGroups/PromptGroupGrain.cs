using System.Diagnostics;
using Grid.Contracts.Learning;
using Grid.Contracts.Rollouts;
using Grid.Grains.Mapping;
using Grid.Grains.Rollouts;
using Grid.Hosting.Storage;
using Grid.Policy.Generation;
using Grid.Tasks;
using Grid.Tasks.Verification;
using Grid.Training.Rollouts;
using Grid.Training.Settings;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
using Orleans.Runtime;

namespace Grid.Grains.PromptGroups;

/// <summary>
/// One prompt's G rollouts: asks the silo's rollout engine for the completions, scores them with the task's
/// verifier, computes advantages, persists, and hands the scored group to the learner. A failed attempt is retried
/// with backoff and a fresh sampling seed; after the retry budget the group is marked failed and the learner is told,
/// so the step goes on without it (a failure is never scored as reward 0). Randomly placed, so groups spread over
/// the silos and their rollout engines.
/// </summary>
[RandomPlacement]
public sealed class PromptGroupGrain(
    [PersistentState("group", GridStorage.Grain)] IPersistentState<PromptGroupState> state,
    RolloutEngine engine,
    ILocalSiloDetails silo,
    ILogger<PromptGroupGrain> logger) : Grain, IPromptGroupGrain
{
    /// <summary>Attempts before a group is given up as failed.</summary>
    public const int MaxAttempts = 3;

    private IGrainTimer? _work;

    public Task<PromptGroupStatus> GetStatus() => Task.FromResult(new PromptGroupStatus(
        this.GetPrimaryKeyString(), state.State.Phase, state.State.Attempts, silo.SiloAddress.ToString(),
        state.State.LastError));

    public async Task Start(PromptGroupAssignment assignment)
    {
        ArgumentNullException.ThrowIfNull(assignment);
        string expected = PromptGroupKey.Create(assignment.RunId, assignment.Step, assignment.PromptIndex);
        if (expected != this.GetPrimaryKeyString())
        {
            throw new ArgumentException(
                $"Prompt group {this.GetPrimaryKeyString()} was given the assignment of {expected}.", nameof(assignment));
        }

        if (state.State.Assignment is null)
        {
            state.State.Assignment = assignment;
            state.State.Phase = GroupPhase.Pending;
            await state.WriteStateAsync();
        }
        else if (state.State.Phase == GroupPhase.Delivered)
        {
            // A re-driven step (grid resume): its learner may be a fresh one; it ignores groups it already has.
            await GrainFactory.GetGrain<ILearnerGrain>(assignment.LearnerKey).SubmitGroup(state.State.Scored!);
        }
        else if (state.State.Phase == GroupPhase.Failed)
        {
            await GrainFactory.GetGrain<ILearnerGrain>(assignment.LearnerKey).SubmitFailure(
                assignment.Step, assignment.PromptIndex, state.State.LastError ?? "failed");
        }

        ScheduleWork(TimeSpan.Zero);
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Reactivated (say, after a silo died) with unfinished work: pick it up again.
        if (state.State.Assignment is not null && state.State.Phase is not (GroupPhase.Delivered or GroupPhase.Failed))
        {
            ScheduleWork(TimeSpan.Zero);
        }

        return base.OnActivateAsync(cancellationToken);
    }

    private void ScheduleWork(TimeSpan due)
    {
        if (_work is not null || state.State.Phase is GroupPhase.Delivered or GroupPhase.Failed)
        {
            return;
        }

        _work = this.RegisterGrainTimer(RunAsync, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan)
        {
            Interleave = true, // status queries answer while the group waits for its completions
            KeepAlive = true,
        });
    }

    private async Task RunAsync()
    {
        var assignment = state.State.Assignment!;
        var learner = GrainFactory.GetGrain<ILearnerGrain>(assignment.LearnerKey);
        try
        {
            if (state.State.Phase is GroupPhase.Pending or GroupPhase.Generating)
            {
                state.State.Phase = GroupPhase.Generating;
                state.State.Attempts++;
                await state.WriteStateAsync();
                state.State.Scored = await ScoreAsync(assignment, state.State.Attempts - 1);
                state.State.Phase = GroupPhase.Scored;
                state.State.LastError = null;
                await state.WriteStateAsync();
            }

            await learner.SubmitGroup(state.State.Scored!);
            state.State.Phase = GroupPhase.Delivered;
            await state.WriteStateAsync();
            _work?.Dispose();
            _work = null;
        }
        catch (Exception error)
        {
            logger.LogWarning(error, "Prompt group {Key} attempt {Attempt} failed", this.GetPrimaryKeyString(), state.State.Attempts);
            state.State.LastError = error.Message;
            _work?.Dispose();
            _work = null;
            if (state.State.Attempts >= MaxAttempts && state.State.Phase != GroupPhase.Scored)
            {
                state.State.Phase = GroupPhase.Failed;
                await state.WriteStateAsync();
                await learner.SubmitFailure(assignment.Step, assignment.PromptIndex,
                    $"{MaxAttempts} attempts failed; last: {error.Message}");
                return;
            }

            await state.WriteStateAsync();
            ScheduleWork(TimeSpan.FromSeconds(Math.Min(30, 0.5 * Math.Pow(2, state.State.Attempts))));
        }
    }

    /// <summary>G completions of the assigned prompt from the assigned policy version, rewarded, with advantages.</summary>
    private async Task<ScoredGroupRecord> ScoreAsync(PromptGroupAssignment assignment, int attempt)
    {
        var settings = RunSettingsJson.Read(assignment.SettingsJson);
        var task = TaskCatalog.Get(settings.Task);
        var (prompt, promptTokens) = ScoredGroups.Prompt(new PromptSource(settings.Seed), task, assignment.Step,
            assignment.PromptIndex, settings.PromptsPerStep);
        var requests = Enumerable.Range(0, settings.GroupSize)
            .Select(g => new GenerationRequest(prompt.Image, promptTokens,
                SamplingSeed.For(settings.Seed, assignment.Step, assignment.PromptIndex, g, attempt)))
            .ToArray();

        var clock = Stopwatch.StartNew();
        var completions = await engine.GenerateAsync(new RolloutRequest(assignment.RunId, assignment.Weights,
            RunSettingsJson.ReadPolicyConfig(assignment.PolicyConfigJson),
            new GenerationSettings(settings.MaxNewTokens, settings.Temperature, settings.TopP), requests));
        double secondsRollout = clock.Elapsed.TotalSeconds;
        clock.Restart();

        // Group-scaled advantages here; with advantage_scale=batch the learner recomputes them across the step.
        var scorer = new GroupScorer(new TaskVerifier(settings.FormatWeight), LossSettings.AdvantageScaleOf(settings));
        var sampled = new SampledGroup(assignment.PromptIndex, prompt, promptTokens, scorer.ScoreRollouts(prompt, completions));
        var scored = scorer.Group(assignment.Step, [sampled])[0];
        return ScoredGroups.ToRecord(scored, assignment.Weights.Version, secondsRollout, clock.Elapsed.TotalSeconds);
    }
}
