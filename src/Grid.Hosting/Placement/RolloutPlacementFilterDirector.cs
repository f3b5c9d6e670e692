using Grid.Hosting.Configuration;
using Microsoft.Extensions.Options;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace Grid.Hosting.Placement;

/// <summary>
/// Keeps the silos that may host rollout work: every silo but the learner-only ones (<see cref="GridSiloRole.Learner"/>).
/// An empty result fails placement right here with an explanation, instead of Orleans' generic error.
/// </summary>
public sealed class RolloutPlacementFilterDirector(
    ISiloMetadataCache siloMetadataCache, ILocalSiloDetails localSilo, IOptions<SiloMetadata> localMetadata) : IPlacementFilterDirector
{
    /// <inheritdoc />
    public IEnumerable<SiloAddress> Filter(
        PlacementFilterStrategy filterStrategy, PlacementTarget target, IEnumerable<SiloAddress> silos)
    {
        var candidates = silos.ToList();
        var eligible = candidates.Where(silo => IsEligible(MetadataOf(silo))).ToList();
        if (eligible.Count == 0)
        {
            string active = candidates.Count == 0
                ? "none"
                : string.Join(", ", candidates.Select(silo => $"{silo} [{SiloMetadataLookup.Describe(MetadataOf(silo))}]"));
            throw new NoRolloutSiloException(
                $"No silo can host {target.GrainIdentity}: it runs rollouts, and every active silo is learner-only "
                + $"('{GridSiloMetadata.Role}=learner'). Active silos: {active}. Start a silo with --role rollout or "
                + "--role both (Grid:Role; both is the default).");
        }

        return eligible;
    }

    /// <summary>True when a silo with this metadata may host rollout work.</summary>
    public static bool IsEligible(IReadOnlyDictionary<string, string> metadata) =>
        GridSiloRoles.TakesPromptGroups(GridSiloRoles.Of(metadata));

    private IReadOnlyDictionary<string, string> MetadataOf(SiloAddress silo) =>
        SiloMetadataLookup.Of(silo, siloMetadataCache, localSilo, localMetadata);
}
