using Grid.Tasks.Randomness;

namespace Grid.Tasks.Datasets;

/// <summary>
/// A fixed list of examples (one task's part of a dataset) seen as a task: <see cref="Generate"/> draws from it with
/// replacement, deterministic from (seed, index) like the built-in generators, and <see cref="Examples"/> gives the
/// list itself, in file order, for evaluation.
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

    public string Name { get; }

    public int ImageSize { get; }

    /// <summary>The examples in file order.</summary>
    public IReadOnlyList<TaskExample> Examples { get; }

    /// <summary>The example drawn uniformly at (seed, index): every index of a stream independent of the others.</summary>
    public TaskExample Generate(long seed, long index) =>
        Examples[new ExampleRandom("dataset:" + Name, seed, index).Next(Examples.Count)];
}
