using System.Text.Json;
using Grid.Contracts.Runs;
using Grid.Core;
using Grid.Grains.Mapping;
using Grid.Grains.Tests.Infrastructure;
using Grid.Policy.Checkpoints;
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

    /// <summary>
    /// rollouts.max_staleness = 0 written out (not just the default) is the synchronous run: every group of step s is
    /// sampled by version s, so the grid trains exactly the in-process loop's losses and betas and ends on the same
    /// weights, byte for byte (the sha256 of the weights file of the loop's final checkpoint is the grid's last version's).
    /// </summary>
    [Fact]
    public async Task With_max_staleness_0_set_explicitly_the_grid_trains_the_in_process_losses_betas_and_weights_bit_for_bit()
    {
        var settings = TestRuns.Smoke("steps=3", "sft.steps=40", "sft.learning_rate=0.01", "learning_rate=0.003",
            "kl.kind=adaptive", "kl.horizon=20", "kl.target_kl=0.001", "rollouts.max_staleness=0");
        Assert.Equal(0, settings.Rollouts.MaxStaleness);
        var (baseline, expected) = TestRuns.InProcess(settings);
        var gridSettings = settings with { InitCheckpoint = Path.Combine(baseline.RunFolder, "checkpoints", "sft") };

        await using var cluster = await GridCluster.StartAsync(SiloRole.CpuLearner);
        var (status, reports) = await cluster.RunAsync("equivalence-k0",
            new RunSpec(gridSettings, AllowCpuLearner: true), TimeSpan.FromSeconds(90));

        Assert.Equal(RunState.Completed, status.State);
        for (int step = 0; step < 3; step++)
        {
            output.WriteLine($"step {step}: loss {expected[step].Loss:R} / {reports[step].Loss:R}; beta {expected[step].Beta:R} / "
                + $"{reports[step].Beta:R}; staleness [{string.Join(",", reports[step].StalenessGroups)}]");
        }

        Assert.Equal(expected.Select(m => m.Loss), reports.Select(r => r.Loss));
        Assert.Equal(expected.Select(m => m.Beta), reports.Select(r => r.Beta));
        Assert.Equal(expected.Select(m => m.KlMean), reports.Select(r => r.KlMean));
        Assert.Equal(expected.Select(m => m.GradNorm), reports.Select(r => r.GradNorm));
        Assert.Equal(PolicyCheckpoint.ReadSha256(baseline.FinalCheckpoint), status.Weights!.Sha256);
        Assert.Equal(3, status.Weights.Version);
        // Synchronous: every trained group at lag 0, nothing dropped, no importance weight other than 1.
        Assert.All(reports, r =>
        {
            Assert.Equal([gridSettings.PromptsPerStep], r.StalenessGroups);
            Assert.Equal(0, r.DroppedStaleGroups);
            Assert.Equal(1, r.ImportanceWeightMean);
            Assert.Equal(1, r.ImportanceWeightMax);
        });
        Assert.Contains(expected, m => m.Loss != 0 && m.KlMean > 0); // the comparison is not between zeros
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
