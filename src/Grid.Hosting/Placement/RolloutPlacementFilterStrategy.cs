using Orleans.Placement;

namespace Grid.Hosting.Placement;

/// <summary>The placement filter behind <see cref="RolloutPlacementAttribute"/>; it carries no settings.</summary>
public sealed class RolloutPlacementFilterStrategy() : PlacementFilterStrategy(order: 0);
