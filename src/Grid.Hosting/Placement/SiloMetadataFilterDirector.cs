using Microsoft.Extensions.Options;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace Grid.Hosting.Placement;

/// <summary>
/// A placement filter that keeps the silos whose published metadata admits the grain, and fails placement right here
/// with an explanation when none does, instead of Orleans' generic error. This silo's own metadata is read from its
/// options (<see cref="SiloMetadataLookup"/>): a grain placed in the silo's first moments (the embedded
/// <c>grid train</c> places its learner at once) would otherwise see none.
/// </summary>
public abstract class SiloMetadataFilterDirector(
    ISiloMetadataCache siloMetadataCache, ILocalSiloDetails localSilo, IOptions<SiloMetadata> localMetadata) : IPlacementFilterDirector
{
    /// <inheritdoc />
    public IEnumerable<SiloAddress> Filter(
        PlacementFilterStrategy filterStrategy, PlacementTarget target, IEnumerable<SiloAddress> silos)
    {
        var candidates = silos.ToList();
        var eligible = candidates.Where(silo => Admits(target.GrainIdentity, MetadataOf(silo))).ToList();
        if (eligible.Count == 0)
        {
            string active = candidates.Count == 0
                ? "none"
                : string.Join(", ", candidates.Select(silo => $"{silo} [{SiloMetadataLookup.Describe(MetadataOf(silo))}]"));
            throw Refusal(target.GrainIdentity, active);
        }

        return eligible;
    }

    /// <summary>True when a silo with this metadata may host <paramref name="grain"/>.</summary>
    protected abstract bool Admits(GrainId grain, IReadOnlyDictionary<string, string> metadata);

    /// <summary>The error when no active silo admits <paramref name="grain"/>; <paramref name="activeSilos"/> lists
    /// them with their grid metadata ("none" when there is no silo).</summary>
    protected abstract Exception Refusal(GrainId grain, string activeSilos);

    private IReadOnlyDictionary<string, string> MetadataOf(SiloAddress silo) =>
        SiloMetadataLookup.Of(silo, siloMetadataCache, localSilo, localMetadata);
}
