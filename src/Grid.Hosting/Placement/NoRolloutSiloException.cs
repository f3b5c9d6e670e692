using Orleans.Runtime;

namespace Grid.Hosting.Placement;

/// <summary>No active silo may host rollout work (every one is learner-only); the message names the silos and the fix.</summary>
[GenerateSerializer]
[Alias("grid.NoRolloutSiloException")]
public sealed class NoRolloutSiloException : OrleansException
{
    /// <summary>Creates the exception with its full explanation.</summary>
    public NoRolloutSiloException(string message)
        : base(message)
    {
    }
}
