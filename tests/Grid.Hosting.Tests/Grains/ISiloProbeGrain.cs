namespace Grid.Hosting.Tests.Grains;

/// <summary>Tells which silo hosts the activation.</summary>
public interface ISiloProbeGrain : IGrainWithStringKey
{
    Task<string> GetSiloAddress();
}
