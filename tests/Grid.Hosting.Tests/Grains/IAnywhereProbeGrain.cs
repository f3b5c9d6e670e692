namespace Grid.Hosting.Tests.Grains;

/// <summary>A grain with Orleans' default placement.</summary>
public interface IAnywhereProbeGrain : ISiloProbeGrain
{
}
