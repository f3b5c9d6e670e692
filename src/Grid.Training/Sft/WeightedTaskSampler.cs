using Grid.Tasks;

namespace Grid.Training.Sft;

/// <summary>
/// Draws demonstration indexes: first a task, with probability proportional to its weight (1 where none is given),
/// then one of that task's demonstrations uniformly.
/// </summary>
public sealed class WeightedTaskSampler
{
    private readonly int[][] _indexesByTask;
    private readonly double[] _cumulativeWeights;
    private readonly Random _random;

    public WeightedTaskSampler(IReadOnlyList<TaskExample> demonstrations, IReadOnlyDictionary<string, double> weights, Random random)
    {
        var byTask = demonstrations.Select((d, i) => (d.Task, Index: i)).GroupBy(x => x.Task).ToArray();
        _indexesByTask = byTask.Select(g => g.Select(x => x.Index).ToArray()).ToArray();
        double total = 0;
        _cumulativeWeights = byTask.Select(g => total += weights.GetValueOrDefault(g.Key, 1.0)).ToArray();
        _random = random;
    }

    public int Next()
    {
        double draw = _random.NextDouble() * _cumulativeWeights[^1];
        int task = Array.FindIndex(_cumulativeWeights, w => draw < w);
        var indexes = _indexesByTask[task < 0 ? ^1 : task];
        return indexes[_random.Next(indexes.Length)];
    }
}
