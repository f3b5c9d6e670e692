namespace Grid.Hosting.Weights;

/// <summary>
/// Where one published blob of weights (or a checkpoint) lives, which policy version it holds, and the sha256 of
/// its bytes (lowercase hex). Grain calls carry this, never the tensors themselves.
/// </summary>
[GenerateSerializer]
[Alias("grid.WeightReference")]
[Immutable]
public sealed record WeightReference(
    [property: Id(0)] Uri Uri,
    [property: Id(1)] long Version,
    [property: Id(2)] string Sha256);
