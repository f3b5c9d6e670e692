namespace Grid.Hosting.Tests.Grains;

/// <summary>A grain with <c>[LearnerPlacement]</c>.</summary>
public interface ILearnerProbeGrain : ISiloProbeGrain
{
}
