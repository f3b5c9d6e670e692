using Orleans.Placement;

namespace Grid.Hosting.Placement;

/// <summary>The placement filter behind <see cref="LearnerPlacementAttribute"/>; it carries no settings.</summary>
public sealed class LearnerPlacementFilterStrategy() : PlacementFilterStrategy(order: 0);
