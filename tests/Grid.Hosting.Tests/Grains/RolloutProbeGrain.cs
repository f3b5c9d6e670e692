using Grid.Hosting.Placement;
using Orleans.Placement;

namespace Grid.Hosting.Tests.Grains;

/// <summary>Stands in for a prompt group: randomly placed like one, kept off learner-only silos, reports its silo.</summary>
[RandomPlacement]
[RolloutPlacement]
public sealed class RolloutProbeGrain(ILocalSiloDetails silo) : Grain, IRolloutProbeGrain
{
    public Task<string> GetSiloAddress() => Task.FromResult(silo.SiloAddress.ToString());
}

/// <summary>
/// No placement filter attribute: the test clusters that need it apply the rollout filter by type, as
/// <c>AddGridGrains</c> does for the prompt-group grain.
/// </summary>
[RandomPlacement]
public sealed class RolloutByTypeProbeGrain(ILocalSiloDetails silo) : Grain, IRolloutByTypeProbeGrain
{
    public Task<string> GetSiloAddress() => Task.FromResult(silo.SiloAddress.ToString());
}
