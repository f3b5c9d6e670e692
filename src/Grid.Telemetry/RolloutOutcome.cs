namespace Grid.Telemetry;

/// <summary>How one rollout ended; the <c>outcome</c> label of <c>grid_rollouts_total</c>.</summary>
public enum RolloutOutcome
{
    /// <summary>Completed on the first attempt.</summary>
    Ok,

    /// <summary>Completed after at least one retry.</summary>
    Retried,

    /// <summary>Gave up after the retry budget; left out of the step, never scored as reward 0.</summary>
    Failed,
}
