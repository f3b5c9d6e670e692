namespace Grid.Hosting.Tests.Grains;

/// <summary>A grain with <c>[RolloutPlacement]</c>.</summary>
public interface IRolloutProbeGrain : ISiloProbeGrain
{
}

/// <summary>A grain given the rollout filter by type (<c>AddRolloutPlacement</c>), as prompt groups are.</summary>
public interface IRolloutByTypeProbeGrain : ISiloProbeGrain
{
}
