using System.Diagnostics;
using Grid.Contracts.Rollouts;
using Grid.Contracts.Runs;

namespace Grid.TestSupport;

/// <summary>
/// A run on a test grid, watched from the client the way <c>grid submit --wait</c> does: polls the controller (which
/// also brings it back if its silo died) and the groups of a step, on one clock started with the run. Depends on
/// nothing but the grain contracts (and xunit's asserts), so the process-cluster tests use it too.
/// </summary>
public sealed class RunTracker
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);
    private readonly IClusterClient _client;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private RunTracker(IClusterClient client, string runId, int prompts)
    {
        _client = client;
        RunId = runId;
        Prompts = prompts;
    }

    public string RunId { get; }

    public int Prompts { get; }

    /// <summary>Time since the run was started.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    public IControllerGrain Controller => _client.GetGrain<IControllerGrain>(RunId);

    /// <summary>Starts the run described by <paramref name="spec"/> with <paramref name="prompts"/> prompts per step.</summary>
    public static async Task<RunTracker> StartAsync(IClusterClient client, string runId, RunSpec spec, int prompts)
    {
        var tracker = Attach(client, runId, prompts);
        await tracker.Controller.Start(spec);
        return tracker;
    }

    /// <summary>Watches a run started elsewhere (say, by <c>grid submit</c>).</summary>
    public static RunTracker Attach(IClusterClient client, string runId, int prompts) => new(client, runId, prompts);

    /// <summary>Waits until the run has completed <paramref name="steps"/> steps (or ended); fails after <paramref name="timeout"/>.</summary>
    public Task<RunStatus> WaitForStepsAsync(long steps, TimeSpan timeout) =>
        WaitForAsync(s => s.StepsCompleted >= steps || s.State != RunState.Running, $"{steps} completed steps", timeout);

    /// <summary>Waits until the run is no longer running.</summary>
    public Task<RunStatus> WaitForEndAsync(TimeSpan timeout) =>
        WaitForAsync(s => s.State != RunState.Running, "the end of the run", timeout);

    /// <summary>The status of every group of <paramref name="step"/> (asking activates a group not started yet).</summary>
    public Task<PromptGroupStatus[]> GroupsAsync(long step) => Task.WhenAll(Enumerable.Range(0, Prompts)
        .Select(p => _client.GetGrain<IPromptGroupGrain>(PromptGroupKey.Create(RunId, step, p)).GetStatus()));

    /// <summary>
    /// Polls the current step until some of its groups are generating on a silo <paramref name="onSilo"/> accepts;
    /// returns the step and the status of every one of its groups at that moment. With <paramref name="lookAhead"/>
    /// (a run's rollouts.max_staleness k) the next k steps are polled too, since their groups generate while the
    /// current step's are done and the learner updates: the first step with such a group is returned.
    /// </summary>
    public async Task<(long Step, PromptGroupStatus[] Groups)> WaitForGeneratingAsync(Func<string, bool> onSilo, TimeSpan timeout,
        int lookAhead = 0)
    {
        PromptGroupStatus[] groups = [];
        long found = -1;
        var status = await WaitForAsync(async s =>
        {
            if (s.State != RunState.Running)
            {
                return true;
            }

            for (long step = s.StepsCompleted; step <= Math.Min(s.StepsCompleted + lookAhead, s.TotalSteps - 1); step++)
            {
                groups = await GroupsAsync(step);
                if (Generating(groups, onSilo).Length > 0)
                {
                    found = step;
                    return true;
                }
            }

            return false;
        }, "a group generating on the wanted silo", timeout);
        return status.State == RunState.Running
            ? (found, groups)
            : throw new InvalidOperationException($"Run {RunId} ended before a group generated on the wanted silo: {Describe(status)}.");
    }

    /// <summary>
    /// The run completed <paramref name="steps"/> steps once each, in order; every step counted all its groups exactly
    /// once and lost none; the weight versions the steps sampled from and published have no gap and no repeat.
    /// <paramref name="diagnostics"/> adds to the message when the run did not complete (say, the silos' logs).
    /// </summary>
    public async Task AssertEveryStepCompletedOnceAsync(RunStatus status, int steps, Func<string>? diagnostics = null)
    {
        Assert.True(status.State == RunState.Completed,
            $"run ended {status.State}: {status.LastError}{(diagnostics is null ? "" : "\n" + diagnostics())}");
        var reports = await Controller.GetStepReports(0);
        Assert.Equal(Enumerable.Range(0, steps).Select(s => (long)s), reports.Select(r => r.Step));
        Assert.All(reports, r =>
        {
            Assert.Equal(0, r.FailedGroups);
            Assert.Equal(Prompts, r.Groups);
            Assert.Equal(r.Step, r.PolicyVersion);
            Assert.Equal(r.Step + 1, r.Weights!.Version);
        });
    }

    /// <summary>Groups of a step's snapshot that were generating on a silo <paramref name="onSilo"/> accepts.</summary>
    public static PromptGroupStatus[] Generating(IEnumerable<PromptGroupStatus> groups, Func<string, bool> onSilo) =>
        groups.Where(g => g.Phase == GroupPhase.Generating && g.Attempts > 0 && onSilo(g.Silo)).ToArray();

    /// <summary>
    /// Polls until <paramref name="done"/> holds. A call that fails (the controller's silo died and the cluster has
    /// not declared it dead yet, or the client's gateway went with it) is asked again at the next poll.
    /// </summary>
    private Task<RunStatus> WaitForAsync(Func<RunStatus, bool> done, string what, TimeSpan timeout) =>
        WaitForAsync(s => Task.FromResult(done(s)), what, timeout);

    private async Task<RunStatus> WaitForAsync(Func<RunStatus, Task<bool>> done, string what, TimeSpan timeout)
    {
        var deadline = _clock.Elapsed + timeout;
        string last = "no answer yet";
        while (true)
        {
            try
            {
                var status = await Controller.GetStatus().WaitAsync(CallTimeout);
                if (await done(status).WaitAsync(CallTimeout))
                {
                    return status;
                }

                last = Describe(status);
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                last = $"the last poll failed: {error.GetType().Name}: {error.Message}";
            }

            if (_clock.Elapsed > deadline)
            {
                throw new TimeoutException($"Run {RunId} did not reach {what} within {timeout}: {last}.");
            }

            await Task.Delay(Poll);
        }
    }

    private static string Describe(RunStatus status) =>
        $"{status.State}, {status.StepsCompleted}/{status.TotalSteps} steps, last error: {status.LastError ?? "none"}";
}
