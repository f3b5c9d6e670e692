namespace Grid.Tasks;

/// <summary>
/// A procedurally generated multimodal task with verifiable answers: unlimited, deterministic from a seed.
/// </summary>
public interface IVisualTask
{
    /// <summary>Stable name used in configs and datasets, e.g. "counting" or "geometry".</summary>
    string Name { get; }

    /// <summary>Side of the square images this task renders, in pixels.</summary>
    int ImageSize { get; }

    /// <summary>The example at <paramref name="index"/> of the stream seeded by <paramref name="seed"/>;
    /// the same (seed, index) always gives the same example, pixel for pixel.</summary>
    TaskExample Generate(long seed, long index);
}
