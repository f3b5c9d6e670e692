using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Grid.Hosting.Placement;

/// <summary>
/// A silo's published metadata for the placement filters. This silo's own metadata is read from its options (what
/// UseSiloMetadata configured): the metadata cache learns it only when its first membership update has been processed,
/// and a grain placed in the silo's first moments (the embedded <c>grid train</c> places its learner at once) would
/// otherwise see none.
/// </summary>
internal static class SiloMetadataLookup
{
    public static IReadOnlyDictionary<string, string> Of(SiloAddress silo, ISiloMetadataCache cache,
        ILocalSiloDetails localSilo, IOptions<SiloMetadata> localMetadata) =>
        silo.Equals(localSilo.SiloAddress) ? localMetadata.Value.Metadata : cache.GetSiloMetadata(silo).Metadata;

    /// <summary>The grid.* keys, for error messages: "grid.gpu=1, grid.role=learner".</summary>
    public static string Describe(IReadOnlyDictionary<string, string> metadata)
    {
        var grid = metadata.Where(pair => pair.Key.StartsWith("grid.", StringComparison.Ordinal)).ToList();
        return grid.Count == 0 ? "no grid metadata" : string.Join(", ", grid.Select(p => $"{p.Key}={p.Value}"));
    }
}
