using Grid.Hosting.Configuration;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Grid.Hosting.Placement;

/// <summary>
/// Keeps the silos that may host rollout work: every silo but the learner-only ones (<see cref="GridSiloRole.Learner"/>).
/// </summary>
public sealed class RolloutPlacementFilterDirector(
    ISiloMetadataCache siloMetadataCache, ILocalSiloDetails localSilo, IOptions<SiloMetadata> localMetadata)
    : SiloMetadataFilterDirector(siloMetadataCache, localSilo, localMetadata)
{
    /// <summary>True when a silo with this metadata may host rollout work.</summary>
    public static bool IsEligible(IReadOnlyDictionary<string, string> metadata) =>
        GridSiloRoles.TakesPromptGroups(GridSiloRoles.Of(metadata));

    protected override bool Admits(GrainId grain, IReadOnlyDictionary<string, string> metadata) => IsEligible(metadata);

    protected override Exception Refusal(GrainId grain, string activeSilos) => new NoRolloutSiloException(
        $"No silo can host {grain}: it runs rollouts, and every active silo is learner-only "
        + $"('{GridSiloMetadata.Role}=learner'). Active silos: {activeSilos}. Start a silo with --role rollout or "
        + "--role both (Grid:Role; both is the default).");
}
