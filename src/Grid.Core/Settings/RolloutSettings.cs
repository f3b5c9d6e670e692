namespace Grid.Core.Settings;

/// <summary>
/// How prompt groups survive failures (the run spec's <c>rollouts</c> section): every attempt at a group's G
/// completions has a timeout; a failed attempt (exception in generation or the verifier, timeout, lost silo) is
/// retried with exponential backoff until <see cref="MaxAttempts"/> attempts are spent, then the whole group is left
/// out of its step. The controller's watchdog looks at the step's groups every <see cref="WatchdogIntervalSeconds"/>
/// (which also brings groups of a dead silo back on a live one) and re-drives a group that showed no progress for
/// <see cref="GroupDeadlineSeconds"/>. Defaults suit the demo on one machine: an attempt takes seconds there.
/// </summary>
public sealed record RolloutSettings
{
    /// <summary>One attempt (generation and scoring) that takes longer fails with a timeout and is retried.</summary>
    public double AttemptTimeoutSeconds { get; init; } = 60;

    /// <summary>The retry budget: attempts per group, the first included; 1 means no retry.</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>Wait before the first retry; each further retry waits twice as long, up to <see cref="BackoffMaxSeconds"/>.</summary>
    public double BackoffInitialSeconds { get; init; } = 0.5;

    public double BackoffMaxSeconds { get; init; } = 10;

    /// <summary>
    /// A group whose phase and attempt count did not change for this long is re-driven by the watchdog. Longer than one
    /// attempt plus one backoff, so a healthy group always moves within it.
    /// </summary>
    public double GroupDeadlineSeconds { get; init; } = 120;

    /// <summary>
    /// How often the watchdog checks the current step's unfinished groups and the learner; after a silo dies, its
    /// groups come back at the first tick after the cluster has declared it dead.
    /// </summary>
    public double WatchdogIntervalSeconds { get; init; } = 1;

    /// <summary>
    /// How many recorded steps keep their prompt groups' persisted state (attempts, silo, last error, scored rollouts)
    /// for inspection; older steps' group states are deleted as the run goes, so storage stays bounded however long it
    /// runs. Resume needs none of them: it re-drives the current step.
    /// </summary>
    public int KeptGroupSteps { get; init; } = 8;

    /// <summary>
    /// k, how many policy versions a trained group may lag behind the policy it updates (docs/algorithm.md section 9).
    /// 0, the default, is the synchronous run: every group of step s is sampled by version s, so the rollout silos wait
    /// for each update. With k &gt; 0 the controller starts the groups of steps s + 1 .. s + k with the newest weights while
    /// the learner still works on step s: a group of step s is sampled by a version v &gt;= s - k, and one that arrives
    /// older than that is dropped, counted and sampled again with the newest weights.
    /// </summary>
    public int MaxStaleness { get; init; }

    /// <summary>The wait before the attempt after failed attempt <paramref name="failedAttempt"/> (1-based).</summary>
    public TimeSpan BackoffAfter(int failedAttempt)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failedAttempt, 1);
        double seconds = BackoffInitialSeconds * Math.Pow(2, Math.Min(failedAttempt - 1, 30));
        return TimeSpan.FromSeconds(Math.Min(seconds, BackoffMaxSeconds));
    }
}
