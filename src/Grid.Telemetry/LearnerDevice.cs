namespace Grid.Telemetry;

/// <summary>Where a learner runs; the <c>device</c> label of <c>grid_learner_placement</c>.</summary>
public enum LearnerDevice
{
    Gpu,
    Cpu,
}
