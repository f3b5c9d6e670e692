namespace Grid.TestSupport;

/// <summary>What a test silo declares about learner capacity.</summary>
public sealed record SiloRole(int GpuDevices, bool AllowCpuLearner)
{
    public static SiloRole Gpu { get; } = new(1, false);

    public static SiloRole CpuLearner { get; } = new(0, true);

    public static SiloRole Plain { get; } = new(0, false);
}
