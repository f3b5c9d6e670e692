using Grid.Tasks.Randomness;

namespace Grid.Tasks.Datasets;

/// <summary>
/// A fixed list of examples (one task's part of a dataset) seen as a task: <see cref="Generate"/> draws from it with
/// replacement, deterministic from (seed, index) like the built-in generators, and <see cref="Examples"/> gives the
/// list itself, in file order, for evaluation. A task over a loaded dataset's records (<see cref="DatasetExampleList"/>)
/// holds no pixels: each example's image is decoded when it is drawn, through a bounded cache.
/// </summary>
public sealed class DatasetTask : IVisualTask
{
    public DatasetTask(string name, int imageSize, IReadOnlyList<TaskExample> examples)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(examples);
        if (examples.Count == 0)
        {
            throw new ArgumentException($"The dataset task \"{name}\" has no examples.", nameof(examples));
        }

        Name = name;
        ImageSize = imageSize;
        Examples = examples;
    }

    /// <summary>A task over a loaded dataset's records, decoding their images through <paramref name="images"/>.</summary>
    public DatasetTask(string name, int imageSize, IReadOnlyList<DatasetExample> records, DatasetImageCache images)
        : this(name, imageSize, new DatasetExampleList(records, images))
    {
    }

    public string Name { get; }

    public int ImageSize { get; }

    /// <summary>The examples in file order.</summary>
    public IReadOnlyList<TaskExample> Examples { get; }

    /// <summary>The example drawn uniformly at (seed, index): every index of a stream independent of the others.</summary>
    public TaskExample Generate(long seed, long index) => Examples[IndexAt(Name, seed, index, Examples.Count)];

    /// <summary>
    /// The position (in file order) of the example <see cref="Generate"/> draws at (seed, index) from a task named
    /// <paramref name="name"/> with <paramref name="count"/> examples: how a cluster's controller addresses a prompt
    /// group's example without reading the dataset.
    /// </summary>
    public static int IndexAt(string name, long seed, long index, int count) =>
        new ExampleRandom("dataset:" + name, seed, index).Next(count);
}
