using Grid.Tasks;
using Grid.Tasks.Images;
using Grid.Training.Sft;

namespace Grid.Training.Tests;

public sealed class WeightedTaskSamplerTests
{
    private static readonly RgbImage Pixel = new(1, 1, new byte[3]);

    [Fact]
    public void Tasks_are_drawn_in_proportion_to_their_weights_and_a_task_without_one_weighs_1()
    {
        var demonstrations = Enumerable.Range(0, 10).Select(i => Example("counting", i))
            .Concat(Enumerable.Range(0, 30).Select(i => Example("geometry", i))).ToArray();
        var sampler = new WeightedTaskSampler(demonstrations, new Dictionary<string, double> { ["counting"] = 3 }, new Random(1));

        var draws = Enumerable.Range(0, 40_000).Select(_ => demonstrations[sampler.Next()].Task).ToArray();

        // counting 3 : geometry 1, whatever the number of demonstrations each task has.
        Assert.InRange(draws.Count(t => t == "counting") / 40_000.0, 0.74, 0.76);
    }

    [Fact]
    public void Every_demonstration_of_a_task_is_drawn()
    {
        var demonstrations = Enumerable.Range(0, 5).Select(i => Example("counting", i)).ToArray();
        var sampler = new WeightedTaskSampler(demonstrations, new Dictionary<string, double>(), new Random(2));

        var drawn = Enumerable.Range(0, 500).Select(_ => sampler.Next()).ToHashSet();

        Assert.Equal([0, 1, 2, 3, 4], drawn.Order());
    }

    private static TaskExample Example(string task, int index) => new($"{task}-{index}", task, "q", "1", Pixel, "r");
}
