using Grid.Policy.Model;

namespace Grid.Policy.Checkpoints;

/// <summary>
/// checkpoint.json: what a checkpoint directory holds. Written last, so a directory with a manifest is complete.
/// </summary>
/// <param name="FormatVersion">Layout version of the directory (currently 1).</param>
/// <param name="WeightsFile">The safetensors file's name inside the directory.</param>
/// <param name="WeightsSha256">Lower-case hex sha256 of the weights file's bytes.</param>
/// <param name="WeightsBytes">Size of the weights file.</param>
/// <param name="ParameterCount">Number of scalar parameters in the weights.</param>
/// <param name="Config">The policy's shape.</param>
public sealed record CheckpointManifest(
    int FormatVersion, string WeightsFile, string WeightsSha256, long WeightsBytes, long ParameterCount, PolicyConfig Config);
