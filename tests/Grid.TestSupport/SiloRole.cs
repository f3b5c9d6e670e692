using Grid.Hosting.Configuration;

namespace Grid.TestSupport;

/// <summary>What a test silo declares: learner capacity, and its role (rollout, learner or both).</summary>
public sealed record SiloRole(int GpuDevices, bool AllowCpuLearner, GridSiloRole Role = GridSiloRole.Both)
{
    public static SiloRole Gpu { get; } = new(1, false);

    public static SiloRole CpuLearner { get; } = new(0, true);

    public static SiloRole Plain { get; } = new(0, false);

    /// <summary>A learner-only silo with a GPU: takes learners, never a prompt group.</summary>
    public static SiloRole LearnerOnlyGpu { get; } = new(1, false, GridSiloRole.Learner);

    /// <summary>A rollout-only silo that declares a GPU: its GPU must not attract a learner.</summary>
    public static SiloRole RolloutOnlyGpu { get; } = new(1, false, GridSiloRole.Rollout);

    /// <summary>A rollout-only silo without a GPU.</summary>
    public static SiloRole RolloutOnly { get; } = new(0, false, GridSiloRole.Rollout);
}
