using Orleans.Placement;

namespace Grid.Hosting.Placement;

/// <summary>
/// Put on a grain class to place its activations only on silos that can train: silos declaring a GPU
/// (<see cref="GridSiloMetadata.Gpu"/>), plus silos declaring <see cref="GridSiloMetadata.CpuLearner"/> when the
/// grain's string key ends in <see cref="LearnerKey.CpuOkSuffix"/>. Placement fails with
/// <see cref="NoLearnerSiloException"/> when no such silo is active. Needs <c>AddGridPlacement</c> on every silo.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class LearnerPlacementAttribute() : PlacementFilterAttribute(new LearnerPlacementFilterStrategy());
