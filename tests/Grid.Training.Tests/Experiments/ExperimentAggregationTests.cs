using Grid.Training.Experiments;

namespace Grid.Training.Tests.Experiments;

public sealed class ExperimentAggregationTests
{
    private static readonly string[] Arms = ["base", "sft", "grpo", "grpo-d"];
    private static readonly string[] Tasks = ["counting", "geometry"];

    /// <summary>Accuracy (counting, geometry) of each run: the base once, the other arms trained on counting, 2 seeds.</summary>
    private static readonly ArmResult[] Runs =
    [
        Run("base", null, null, 0.10, 0.40),
        Run("sft", "counting", 1, 0.20, 0.30),
        Run("sft", "counting", 2, 0.30, 0.30),
        Run("grpo", "counting", 1, 0.30, 0.45),
        Run("grpo", "counting", 2, 0.40, 0.45),
        Run("grpo-d", "counting", 2, 0.50, 0.50),
        Run("grpo-d", "counting", 1, 0.40, 0.40),
    ];

    [Fact]
    public void A_cell_holds_each_seeds_accuracy_in_seed_order_with_mean_sd_and_standard_error()
    {
        var cells = ExperimentAggregation.Cells(Runs, Arms, ["counting"], ["counting"], evalPrompts: 100);

        var grpoD = Assert.Single(cells, c => c.Arm == "grpo-d");
        Assert.Equal([0.40, 0.50], grpoD.Values);
        Assert.Equal(0.45, grpoD.Mean, 12);
        Assert.Equal(Math.Sqrt(0.005), grpoD.Sd, 12);
        Assert.Equal(2, grpoD.N);
        Assert.Equal(ExperimentStatistics.StandardError(new SampleSummary(0.45, Math.Sqrt(0.005), 2), 100), grpoD.StandardError, 12);
    }

    [Fact]
    public void The_base_fills_its_cell_under_every_trained_task_from_its_one_evaluation()
    {
        var cells = ExperimentAggregation.Cells(Runs, Arms, Tasks, Tasks, evalPrompts: 100);

        var baseCells = cells.Where(c => c.Arm == "base").ToArray();
        Assert.Equal(4, baseCells.Length);
        Assert.All(baseCells, c => Assert.Equal(1, c.N));
        Assert.Equal(0.40, baseCells.Single(c => c.TrainedTask == "geometry" && c.EvalTask == "geometry").Mean);
    }

    [Fact]
    public void Every_cell_carries_its_change_over_the_sft_cell_of_its_column()
    {
        var cells = ExperimentAggregation.Cells(Runs, Arms, Tasks, Tasks, evalPrompts: 100);

        var cross = cells.Single(c => c.Arm == "grpo-d" && c.TrainedTask == "counting" && c.EvalTask == "geometry");
        Assert.Equal(50.0, cross.RelativeToSftPercent!.Value, 9); // 0.45 over sft's 0.30
        Assert.Equal(0.0, cells.Single(c => c.Arm == "sft" && c.TrainedTask == "counting" && c.EvalTask == "counting").RelativeToSftPercent);
    }

    [Fact]
    public void Grpo_d_is_compared_with_grpo_and_with_sft_in_each_column_and_resolved_only_beyond_two_standard_errors()
    {
        var cells = ExperimentAggregation.Cells(Runs, Arms, ["counting"], ["counting"], evalPrompts: 100);

        var comparisons = ExperimentAggregation.Comparisons(cells);

        Assert.Equal([("grpo-d", "grpo"), ("grpo-d", "sft")], comparisons.Select(c => (c.Arm, c.Against)));
        var overSft = comparisons[1];
        var (sft, grpoD) = (cells.Single(c => c.Arm == "sft"), cells.Single(c => c.Arm == "grpo-d"));
        Assert.Equal(0.20, overSft.Difference, 12);
        Assert.Equal(ExperimentStatistics.DifferenceStandardError(grpoD.StandardError, sft.StandardError), overSft.StandardError, 12);
        Assert.Equal(overSft.Difference > 2 * overSft.StandardError, overSft.Resolved);
        Assert.False(comparisons[0].Resolved); // 0.45 against 0.35 with seed spreads of 0.07 each
    }

    [Fact]
    public void Results_md_has_the_papers_table_a_cross_task_table_with_changes_over_sft_and_a_line_per_column()
    {
        var cells = ExperimentAggregation.Cells(Runs, Arms, Tasks, Tasks, evalPrompts: 100);
        var results = Results(cells);

        string md = ResultsMarkdown.Render(results, "accuracy.png");

        Assert.Contains("| arm | trained counting -> eval counting | trained geometry -> eval geometry |", md);
        Assert.Contains("| grpo-d | 45.0 +- 7.1 | - |", md);
        Assert.Contains("| base | 10.0 (n=1) | 40.0 (n=1) |", md);
        Assert.Contains("| arm | trained counting -> eval geometry | trained geometry -> eval counting |", md);
        Assert.Contains("| grpo-d | 45.0 +- 7.1 [+50.0%] | - |", md);
        Assert.Contains("| sft | 30.0 +- 0.0 [reference] | - |", md);
        Assert.Contains("- trained counting -> eval counting: standard error base 3.0, sft 6.6", md);
        Assert.Contains("grpo-d - sft = +20.0 points", md);
        Assert.Contains("held-out stream", md);
        Assert.Contains("- budget small: steps: 200 -> 60", md);
        Assert.DoesNotContain("NaN", md);
    }

    [Fact]
    public void A_study_trained_on_one_task_still_shows_the_other_task_as_its_cross_task_column()
    {
        var cells = ExperimentAggregation.Cells(Runs, Arms, ["counting"], Tasks, evalPrompts: 100);

        string md = ResultsMarkdown.Render(Results(cells) with { Tasks = ["counting"] });

        Assert.Contains("| arm | trained counting -> eval counting |" + Environment.NewLine, md);
        Assert.Contains("| arm | trained counting -> eval geometry |" + Environment.NewLine, md);
        Assert.Contains("| grpo | 35.0 +- 7.1 |" + Environment.NewLine, md);
        Assert.Contains("| grpo | 45.0 +- 0.0 [+50.0%] |" + Environment.NewLine, md);
    }

    [Fact]
    public void An_sft_cell_of_0_gives_a_defined_change_in_the_table()
    {
        ArmResult[] runs = [Run("sft", "counting", 1, 0.5, 0.0), Run("grpo-d", "counting", 1, 0.5, 0.1), Run("grpo", "counting", 1, 0.5, 0.0)];
        var cells = ExperimentAggregation.Cells(runs, ["sft", "grpo", "grpo-d"], ["counting"], Tasks, evalPrompts: 100);

        string md = ResultsMarkdown.Render(Results(cells) with { Arms = ["sft", "grpo", "grpo-d"] });

        Assert.Contains("| grpo-d | 10.0 (n=1) [n/a: sft 0%] | - |", md);
        Assert.Contains("| grpo | 0.0 (n=1) [0.0%] | - |", md);
        Assert.DoesNotContain("NaN", md);
        Assert.DoesNotContain("Infinity", md);
    }

    private static ExperimentResults Results(IReadOnlyList<ExperimentCell> cells) => new(
        "study-20261204-120000", new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero), 3600, "grid experiment --budget small",
        2, "Linux", "the embedded grid", "small", ["steps: 200 -> 60"], ["steps: 200 -> 60"],
        new BasePolicy("/base/checkpoints/sft", "abc", true, "runs/base"), Arms, Tasks, Tasks, [1, 2], 100,
        ExperimentResults.HeldOutTestPrompts, [], Runs, cells, ExperimentAggregation.Comparisons(cells));

    private static ArmResult Run(string arm, string? task, long? seed, double counting, double geometry) => new(arm, task, seed,
        $"runs/{arm}-{task}-{seed}", new Dictionary<string, double> { ["counting"] = counting, ["geometry"] = geometry },
        new Dictionary<string, double> { ["counting"] = 1, ["geometry"] = 1 }, 60, 0, 0, 10);
}
