using Orleans.Placement;

namespace Grid.Hosting.Placement;

/// <summary>
/// Put on a grain class to keep its activations off learner-only silos (<see cref="GridSiloMetadata.Role"/> =
/// learner): prompt groups and other rollout work. Placement fails with <see cref="NoRolloutSiloException"/> when every
/// active silo is learner-only. Needs <c>AddGridPlacement</c> on every silo. For a grain class this assembly cannot
/// annotate, <see cref="RolloutPlacement.AddRolloutPlacement"/> applies the same filter by type.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class RolloutPlacementAttribute() : PlacementFilterAttribute(new RolloutPlacementFilterStrategy());
