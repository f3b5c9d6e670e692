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
    /// half-second probes is declared dead and shuts itself down, which costs more than the second saved. The in-process
    /// test clusters' "kill" is a cancelled host stop that still marks the silo dead in the membership table, so only
    /// the process tests (SiloKillTests, ControllerKillTests) exercise probe-based detection. Measured recovery times
    /// are in the README's "What survives what" table and docs/design.md.
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
