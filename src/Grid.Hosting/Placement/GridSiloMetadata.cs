namespace Grid.Hosting.Placement;

/// <summary>
/// Silo metadata keys Grid publishes (Orleans silo metadata, exchanged when a silo joins). Operators set them with
/// <c>grid silo --gpu N</c> / <c>--allow-cpu-learner</c>, i.e. <see cref="Configuration.GridSiloOptions.GpuDevices"/>
/// and <see cref="Configuration.GridSiloOptions.AllowCpuLearner"/>.
/// </summary>
public static class GridSiloMetadata
{
    /// <summary>Number of GPU devices the silo offers to learners ("1", "2", ...); absent on silos without a GPU.</summary>
    public const string Gpu = "grid.gpu";

    /// <summary>"true" when the silo accepts learners of runs that allow CPU training; absent otherwise.</summary>
    public const string CpuLearner = "grid.cpu-learner";

    /// <summary>
    /// What the silo does: "rollout", "learner" or "both" (<see cref="Configuration.GridSiloOptions.Role"/>,
    /// <c>grid silo --role</c>); absent on silos older than roles, which count as "both".
    /// </summary>
    public const string Role = "grid.role";
}
