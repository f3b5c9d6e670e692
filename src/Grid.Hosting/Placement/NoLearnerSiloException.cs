using Orleans.Runtime;

namespace Grid.Hosting.Placement;

/// <summary>No active silo may host a learner grain; the message says which metadata is missing and how to fix it.</summary>
[GenerateSerializer]
[Alias("grid.NoLearnerSiloException")]
public sealed class NoLearnerSiloException : OrleansException
{
    /// <summary>Creates the exception with its full explanation.</summary>
    public NoLearnerSiloException(string message)
        : base(message)
    {
    }
}
