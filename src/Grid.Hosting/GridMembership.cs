using Orleans.Configuration;

namespace Grid.Hosting;

/// <summary>
/// Membership timing for tests and small clusters (a handful of silos on one network). Orleans' defaults
/// (probe timeout 5 s, 3 missed probes, 2 votes) declare a kill -9'ed silo dead about 12 s later, and the grains
/// it hosted stay unreachable until then.
/// </summary>
public static class GridMembership
{
    /// <summary>
    /// Probes every second and declares a silo dead after 2 missed probes (about 2-3 s for a silo that vanishes
    /// without a word, against ~12 s with the defaults); one vote suffices because a small cluster may have only one
    /// other silo left to vote. Shorter probes were not adopted: on a loaded machine a healthy silo that misses two
    /// half-second probes is declared dead and shuts itself down, which costs more than the second saved.
    /// <para>Measured recovery, kill to the next completed step (issue 5; one loaded 2-core machine):</para>
    /// <list type="bullet">
    /// <item><c>kill -9</c> of a <c>grid silo</c> process mid-step (Grid.Cluster.Tests SiloKillTests: 3 processes on
    /// Azurite): 1.9-2.9 s. That is these probes declaring it dead, the controller's watchdog bringing its groups back
    /// at its next tick (<c>rollouts.watchdog_interval_seconds</c>, 1 s), one retried attempt, and the update.</item>
    /// <item>In-process <c>KillSiloAsync</c> (Grid.Grains.Tests SiloFailureTests): 2.0-2.3 s for a rollout silo and
    /// 0.9-2.1 s for the learner's silo, with every attempt slowed by a 0.8 s batching wait in that test. The
    /// in-process "kill" is a cancelled host stop that still marks the silo dead in the membership table, so it does
    /// not exercise probe-based detection; the process test does.</item>
    /// </list>
    /// </summary>
    public static void ApplyFastFailureDetection(ClusterMembershipOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ProbeTimeout = TimeSpan.FromSeconds(1);
        options.NumMissedProbesLimit = 2;
        options.NumVotesForDeathDeclaration = 1;
        options.TableRefreshTimeout = TimeSpan.FromSeconds(2);
        options.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
        options.DeathVoteExpirationTimeout = TimeSpan.FromSeconds(10);
    }
}
