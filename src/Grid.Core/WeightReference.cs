namespace Grid.Core;

/// <summary>
/// Where one published blob of weights (or a checkpoint) lives, which policy version it holds, and the sha256 of
/// its bytes (lowercase hex). Grain calls carry this, never the tensors themselves (Grid.Contracts serializes it
/// through a surrogate, so this project stays free of Orleans).
/// </summary>
public sealed record WeightReference(Uri Uri, long Version, string Sha256);
