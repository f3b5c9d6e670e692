using Grid.Hosting.Placement;

namespace Grid.Hosting.Tests.Grains;

/// <summary>Stands in for the learner: placed like one, reports its silo.</summary>
[LearnerPlacement]
public sealed class LearnerProbeGrain(ILocalSiloDetails silo) : Grain, ILearnerProbeGrain
{
    public Task<string> GetSiloAddress() => Task.FromResult(silo.SiloAddress.ToString());
}
