using System.Diagnostics;
using Grid.Contracts.Rollouts;
using Grid.Contracts.Runs;

namespace Grid.Grains.Tests.Infrastructure;

/// <summary>
/// A run on a test grid, watched from the client the way <c>grid submit --wait</c> does: polls the controller (which
/// also brings it back if its silo died) and the groups of a step, on one clock started with the run.
/// </summary>
public sealed class RunTracker
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);
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
        var tracker = new RunTracker(client, runId, prompts);
        await tracker.Controller.Start(spec);
        return tracker;
    }

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
    /// returns the step and those groups.
    /// </summary>
    public async Task<(long Step, PromptGroupStatus[] Generating)> WaitForGeneratingAsync(Func<string, bool> onSilo, TimeSpan timeout)
    {
        var deadline = _clock.Elapsed + timeout;
        while (true)
        {
            var status = await Controller.GetStatus();
            if (status.State == RunState.Running)
            {
                long step = status.StepsCompleted;
                var generating = (await GroupsAsync(step))
                    .Where(g => g.Phase == GroupPhase.Generating && g.Attempts > 0 && onSilo(g.Silo)).ToArray();
                if (generating.Length > 0)
                {
                    return (step, generating);
                }
            }

            if (status.State != RunState.Running || _clock.Elapsed > deadline)
            {
                throw new TimeoutException($"Run {RunId}: no group generating on the wanted silo within {timeout} ({Describe(status)}).");
            }

            await Task.Delay(Poll);
        }
    }

    private async Task<RunStatus> WaitForAsync(Func<RunStatus, bool> done, string what, TimeSpan timeout)
    {
        var deadline = _clock.Elapsed + timeout;
        var status = await Controller.GetStatus();
        while (!done(status))
        {
            if (_clock.Elapsed > deadline)
            {
                throw new TimeoutException($"Run {RunId} did not reach {what} within {timeout}: {Describe(status)}.");
            }

            await Task.Delay(Poll);
            status = await Controller.GetStatus();
        }

        return status;
    }

    private static string Describe(RunStatus status) =>
        $"{status.State}, {status.StepsCompleted}/{status.TotalSteps} steps, last error: {status.LastError ?? "none"}";
}
