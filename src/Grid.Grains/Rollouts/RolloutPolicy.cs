namespace Grid.Grains.Rollouts;

/// <summary>What a silo's rollout engine samples from.</summary>
public enum RolloutPolicy
{
    /// <summary>The run's policy network at the requested version: what training uses, and the default.</summary>
    Model = 0,

    /// <summary>
    /// BENCHMARKING ONLY: every completion is the same canned answer, returned at once, and the learner applies no
    /// update (no torch anywhere). Measures the grid itself (grain calls, persistence, reports), never trains.
    /// </summary>
    FixedAnswer = 1,
}
