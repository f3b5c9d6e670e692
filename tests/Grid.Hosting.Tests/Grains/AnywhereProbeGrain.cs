using Orleans.Placement;

namespace Grid.Hosting.Tests.Grains;

/// <summary>
/// No learner attribute. Random placement, because Orleans' default (resource-optimized) packs every activation onto
/// the least loaded silo when the load is flat, as it is in a test cluster.
/// </summary>
[RandomPlacement]
public sealed class AnywhereProbeGrain(ILocalSiloDetails silo) : Grain, IAnywhereProbeGrain
{
    public Task<string> GetSiloAddress() => Task.FromResult(silo.SiloAddress.ToString());
}
