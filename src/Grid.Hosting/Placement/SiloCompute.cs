namespace Grid.Hosting.Placement;

/// <summary>
/// The compute this silo declared (<c>grid silo --gpu N</c>), for grains that pin themselves to a device: the learner
/// uses GPU 0 of a silo that declares GPUs when CUDA is available, and the CPU otherwise.
/// </summary>
public sealed record SiloCompute(int GpuDevices);
