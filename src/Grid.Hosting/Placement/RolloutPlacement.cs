using Microsoft.Extensions.DependencyInjection;
using Orleans.Metadata;
using Orleans.Placement;
using Orleans.Runtime;

namespace Grid.Hosting.Placement;

/// <summary>
/// Applies <see cref="RolloutPlacementAttribute"/>'s filter to grain classes by type, through the grain properties
/// every silo publishes in the cluster manifest: the same properties the attribute writes, so placement cannot tell the
/// difference. A class that already carries the attribute is left alone.
/// </summary>
public static class RolloutPlacement
{
    /// <summary>Keeps activations of <paramref name="grainClasses"/> off learner-only silos. Call on every silo.</summary>
    public static ISiloBuilder AddRolloutPlacement(this ISiloBuilder silo, params Type[] grainClasses)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(grainClasses);
        var classes = grainClasses.ToHashSet();
        silo.Services.AddSingleton<IGrainPropertiesProvider>(services => new Provider(services, classes));
        return silo;
    }

    private sealed class Provider(IServiceProvider services, HashSet<Type> classes) : IGrainPropertiesProvider
    {
        private static readonly string s_filterName = nameof(RolloutPlacementFilterStrategy);

        public void Populate(Type grainClass, GrainType grainType, Dictionary<string, string> properties)
        {
            if (!classes.Contains(grainClass) || HasFilter(properties))
            {
                return;
            }

            new RolloutPlacementFilterStrategy().PopulateGrainProperties(services, grainClass, grainType, properties);
        }

        private static bool HasFilter(Dictionary<string, string> properties) =>
            properties.TryGetValue(WellKnownGrainTypeProperties.PlacementFilter, out var filters)
            && filters.Split(',').Contains(s_filterName, StringComparer.Ordinal);
    }
}
