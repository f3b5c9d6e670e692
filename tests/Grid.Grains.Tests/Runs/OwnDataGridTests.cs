using Grid.Contracts.Runs;
using Grid.Grains.Tests.Infrastructure;
using Grid.Training.Tests.OwnData;

namespace Grid.Grains.Tests.Runs;

/// <summary>On one machine the grid's grains read a dataset of the user's own, and train exactly what the in-process loop trains.</summary>
public sealed class OwnDataGridTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_grid_trains_on_own_data_with_the_in_process_losses()
    {
        using var data = new ColourDataset(count: 80);
        var settings = TestRuns.Smoke("steps=2", "sft.steps=40", "sft.learning_rate=0.01", "learning_rate=0.003",
            $"data.train=\"{data.Jsonl}\"", "data.answer_kind=choice", "data.eval_fraction=0.25");
        var (baseline, expected) = TestRuns.InProcess(settings);
        var gridSettings = settings with { InitCheckpoint = Path.Combine(baseline.RunFolder, "checkpoints", "sft") };

        await using var cluster = await GridCluster.StartAsync(SiloRole.CpuLearner);
        var (status, reports) = await cluster.RunAsync("own-data", new RunSpec(gridSettings, AllowCpuLearner: true),
            TimeSpan.FromSeconds(90));

        Assert.Equal(RunState.Completed, status.State);
        Assert.Equal(2, reports.Length);
        for (int step = 0; step < 2; step++)
        {
            output.WriteLine($"step {step}: loss in-process {expected[step].Loss:R} grid {reports[step].Loss:R}; "
                + $"reward {expected[step].RewardMean:R} / {reports[step].RewardMean:R}");
            Assert.Equal(expected[step].Loss, reports[step].Loss, 1e-5);
            Assert.Equal(expected[step].RewardMean, reports[step].RewardMean, 1e-12);
        }

        Assert.Contains(expected, m => m.RewardMean > 0); // the policy answers: prompts and tokenizer are the dataset's
    }
}
