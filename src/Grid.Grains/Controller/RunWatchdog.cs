using System.Diagnostics;
using Grid.Contracts.Learning;
using Grid.Contracts.Rollouts;
using Grid.Training.Settings;
using Microsoft.Extensions.Logging;

namespace Grid.Grains.Controller;

/// <summary>
/// What the controller's watchdog remembers about the current step between ticks, and the probes it sends. A tick
/// asks each unfinished group of the step for its status when the cluster's membership changed since the last probe
/// (a silo died or left: the call alone brings a group whose silo died back on a live silo, where it resumes from its
/// persisted state), and otherwise every quarter deadline; probing every group every tick doubled the grain calls of
/// a step on the control-plane benchmark. A group whose phase, attempt count and silo stayed the same
/// for <see cref="RolloutSettings.GroupDeadlineSeconds"/> is re-driven (its idempotent Start again); a step in which
/// nothing moved for that long is re-driven whole. In memory only: a reactivated controller starts watching afresh.
/// </summary>
internal sealed class RunWatchdog
{
    private readonly Dictionary<int, Progress> _groups = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ILogger _logger;
    private readonly TimeSpan _deadline;
    private readonly TimeSpan _probeTimeout;
    private long _step = -1;
    private TimeSpan _stepMovedAt;
    private long _probedMembership = -1;
    private TimeSpan _probedAt;

    public RunWatchdog(RolloutSettings rollouts, ILogger logger)
    {
        _logger = logger;
        _deadline = TimeSpan.FromSeconds(rollouts.GroupDeadlineSeconds);
        // A probe to a silo that died but is not declared dead yet hangs; the next tick asks again.
        _probeTimeout = TimeSpan.FromSeconds(Math.Max(1, rollouts.WatchdogIntervalSeconds));
    }

    /// <summary>True when no group of the current step moved for a whole deadline (see <see cref="CheckGroupsAsync"/>).</summary>
    public bool StepStalled => _step >= 0 && _clock.Elapsed - _stepMovedAt > _deadline;

    /// <summary>
    /// The learner answered and has no state: its silo died and this call activated a fresh one. A learner that
    /// does not answer (its silo is dying) counts as not lost yet.
    /// </summary>
    public async Task<bool> LearnerLostAsync(ILearnerGrain learner)
    {
        try
        {
            return !(await learner.GetStatus().WaitAsync(_probeTimeout)).Initialized;
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            _logger.LogDebug(error, "The learner did not answer the watchdog");
            return false;
        }
    }

    /// <summary>
    /// Asks the step's unfinished groups how they are; returns the prompt indices of groups that made no progress
    /// (phase, attempts, silo) for the deadline. Groups that are delivered or failed are not asked again this step.
    /// </summary>
    public async Task<IReadOnlyList<int>> CheckGroupsAsync(long step, int prompts, Func<int, IPromptGroupGrain> group,
        long membershipVersion)
    {
        var now = _clock.Elapsed;
        if (step != _step)
        {
            _step = step;
            _stepMovedAt = now;
            _probedAt = now;
            _groups.Clear();
        }

        if (membershipVersion == _probedMembership && now - _probedAt < _deadline / 4)
        {
            return [];
        }

        _probedMembership = membershipVersion;
        _probedAt = now;

        var unfinished = Enumerable.Range(0, prompts).Where(p => !_groups.TryGetValue(p, out var g) || !g.Finished).ToArray();
        var statuses = await Task.WhenAll(unfinished.Select(p => ProbeAsync(group(p))));
        now = _clock.Elapsed;
        var stalled = new List<int>();
        for (int i = 0; i < unfinished.Length; i++)
        {
            int p = unfinished[i];
            var status = statuses[i];
            var seen = _groups.TryGetValue(p, out var known) ? known : new Progress(null, now, false);
            (GroupPhase Phase, int Attempts, string Silo)? fingerprint =
                status is null ? null : (status.Phase, status.Attempts, status.Silo);
            if (fingerprint is not null && fingerprint != seen.Fingerprint)
            {
                seen = new Progress(fingerprint, now, status!.Phase is GroupPhase.Delivered or GroupPhase.Failed);
                _stepMovedAt = now;
            }
            else if (now - seen.Since > _deadline)
            {
                stalled.Add(p);
            }

            _groups[p] = seen;
        }

        return stalled;
    }

    /// <summary>Starts a stalled group again and gives it a fresh deadline; a group that does not answer is tried next time.</summary>
    public async Task RedriveAsync(IPromptGroupGrain group, PromptGroupAssignment assignment)
    {
        _logger.LogWarning("Prompt group {Step}/{Prompt} made no progress for {Deadline} s; re-driving it",
            assignment.Step, assignment.PromptIndex, _deadline.TotalSeconds);
        if (_groups.TryGetValue(assignment.PromptIndex, out var seen))
        {
            _groups[assignment.PromptIndex] = seen with { Since = _clock.Elapsed };
        }

        try
        {
            await group.Start(assignment).WaitAsync(_probeTimeout);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            _logger.LogWarning(error, "Re-driving prompt group {Step}/{Prompt} failed; the watchdog tries again",
                assignment.Step, assignment.PromptIndex);
        }
    }

    /// <summary>The whole step was re-driven: every group and the step get a fresh deadline.</summary>
    public void Redriven()
    {
        var now = _clock.Elapsed;
        _stepMovedAt = now;
        foreach (int p in _groups.Keys.ToArray())
        {
            _groups[p] = _groups[p] with { Since = now };
        }
    }

    private async Task<PromptGroupStatus?> ProbeAsync(IPromptGroupGrain group)
    {
        try
        {
            return await group.GetStatus().WaitAsync(_probeTimeout);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            _logger.LogDebug(error, "A prompt group did not answer the watchdog");
            return null;
        }
    }

    /// <summary>A group as last seen: what it reported, since when unchanged, and whether it is done for the step.</summary>
    private sealed record Progress((GroupPhase Phase, int Attempts, string Silo)? Fingerprint, TimeSpan Since, bool Finished);
}
