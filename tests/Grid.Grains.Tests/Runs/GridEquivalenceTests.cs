using System.Text.Json;
using Grid.Contracts.Runs;
using Grid.Core;
using Grid.Grains.Mapping;
using Grid.Grains.Tests.Infrastructure;
using Grid.Training.Metrics;
using Grid.Training.Settings;

namespace Grid.Grains.Tests.Runs;

/// <summary>With per-completion seeds, the grid must train exactly what the in-process loop trains.</summary>
public sealed class GridEquivalenceTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("dynamic")]
    [InlineData("adaptive")]
    public async Task The_grid_computes_the_in_process_losses_and_betas_for_the_first_three_steps(string kl)
    {
        // A warm start long enough to give rewards some spread (so advantages, loss and KL are not all zero), a
        // learning rate that moves the policy, and a short adaptive horizon so beta follows the measured KL visibly.
        var settings = TestRuns.Smoke("steps=3", "sft.steps=40", "sft.learning_rate=0.01", "learning_rate=0.003",
            $"kl.kind={kl}", "kl.horizon=20", "kl.target_kl=0.001");
        var (baseline, expected) = TestRuns.InProcess(settings);
        var gridSettings = settings with { InitCheckpoint = Path.Combine(baseline.RunFolder, "checkpoints", "sft") };

        await using var cluster = await GridCluster.StartAsync(SiloRole.CpuLearner);
        var (status, reports) = await cluster.RunAsync($"equivalence-{kl}",
            new RunSpec(gridSettings, AllowCpuLearner: true), TimeSpan.FromSeconds(90));

        Assert.Equal(RunState.Completed, status.State);
        Assert.Equal(3, reports.Length);
        double maxLossDifference = 0;
        for (int step = 0; step < 3; step++)
        {
            output.WriteLine($"step {step}: loss in-process {expected[step].Loss:R} grid {reports[step].Loss:R}; "
                + $"beta {expected[step].Beta:R} / {reports[step].Beta:R}; kl {expected[step].KlMean:R} / "
                + $"{reports[step].KlMean:R}; grad norm {expected[step].GradNorm:R} / {reports[step].GradNorm:R}");
            maxLossDifference = Math.Max(maxLossDifference, Math.Abs(expected[step].Loss - reports[step].Loss));
            Assert.Equal(expected[step].Loss, reports[step].Loss, 1e-5);
            Assert.Equal(expected[step].Beta, reports[step].Beta, 1e-12);
            Assert.Equal(expected[step].RewardMean, reports[step].RewardMean, 1e-12);
            Assert.Equal(expected[step].KlMean, reports[step].KlMean, 1e-7);
            Assert.Equal(expected[step].GradNorm, reports[step].GradNorm, 1e-6);
        }

        Assert.Equal(expected[^1].Beta, status.Beta); // the controller's beta of the last step it started
        Assert.Contains(expected, m => m.Loss != 0 && m.KlMean > 0); // the comparison is not between zeros
        output.WriteLine($"max |loss difference| = {maxLossDifference:E2}");
    }

    [Fact]
    public async Task The_grid_learner_records_the_in_process_validation_numbers()
    {
        // A warm start long enough that the policy answers in format and sometimes right, so the validations are not
        // all zeros; the default learning rate keeps it so over the steps. Validated before step 0 and after each step.
        var settings = TestRuns.Smoke("steps=2", "sft.steps=80", "sft.learning_rate=0.01", "eval_every=1",
            "validation_prompts=16");
        var (baseline, expected) = TestRuns.InProcess(settings);
        var gridSettings = settings with { InitCheckpoint = Path.Combine(baseline.RunFolder, "checkpoints", "sft") };

        await using var cluster = await GridCluster.StartAsync(SiloRole.CpuLearner);
        var (status, reports) = await cluster.RunAsync("equivalence-validation",
            new RunSpec(gridSettings, AllowCpuLearner: true), TimeSpan.FromSeconds(90));

        Assert.Equal(RunState.Completed, status.State);
        var grid = reports.Select(StepReports.ToMetrics).ToArray();
        var inProcess = expected.SelectMany(m => new[] { m.ValidationStart, m.Validation }).Select(Json).ToArray();
        var onGrid = grid.SelectMany(m => new[] { m.ValidationStart, m.Validation }).Select(Json).ToArray();
        output.WriteLine($"in-process: {string.Join(" ", inProcess)}\ngrid:       {string.Join(" ", onGrid)}");
        Assert.Equal(inProcess, onGrid);
        Assert.Equal([0L, 1L, 2L], expected.SelectMany(m => new[] { m.ValidationStart, m.Validation })
            .OfType<ValidationMetrics>().Select(v => v.PolicyVersion));
        Assert.All(expected.Select(m => m.Validation!), v => Assert.Contains(v.FormatRate.Values, rate => rate > 0));
        Assert.All(grid, m => Assert.True(m.SecondsValidation > 0));
    }

    private static string Json(ValidationMetrics? validation) => JsonSerializer.Serialize(validation);
}
