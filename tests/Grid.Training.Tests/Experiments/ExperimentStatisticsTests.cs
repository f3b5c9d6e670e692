using Grid.Training.Experiments;

namespace Grid.Training.Tests.Experiments;

public sealed class ExperimentStatisticsTests
{
    [Fact]
    public void A_summary_has_the_mean_and_the_sample_sd_with_n_minus_1()
    {
        var summary = SampleSummary.Of([0.2, 0.4, 0.6]);

        Assert.Equal(0.4, summary.Mean, 12);
        Assert.Equal(0.2, summary.Sd, 12); // population sd would be 0.163
        Assert.Equal(3, summary.N);
        Assert.True(summary.SpreadKnown);
    }

    [Fact]
    public void One_value_has_sd_0_and_is_marked_as_having_no_known_spread()
    {
        var summary = SampleSummary.Of([0.35]);

        Assert.Equal(0.35, summary.Mean);
        Assert.Equal(0.0, summary.Sd);
        Assert.False(summary.SpreadKnown);
    }

    [Fact]
    public void A_summary_of_nothing_or_of_a_nan_is_refused()
    {
        Assert.Throws<ArgumentException>(() => SampleSummary.Of([]));
        Assert.Throws<ArgumentException>(() => SampleSummary.Of([0.1, double.NaN]));
    }

    [Fact]
    public void A_cells_standard_error_adds_the_seed_spread_and_the_binomial_noise_of_the_test_prompts()
    {
        // sd 0.1 over 4 seeds: 0.1^2 / 4 = 0.0025; p = 0.5 on 100 prompts: 0.25 / 100 = 0.0025.
        var cell = new SampleSummary(Mean: 0.5, Sd: 0.1, N: 4);

        Assert.Equal(Math.Sqrt(0.005), ExperimentStatistics.StandardError(cell, evalPrompts: 100), 12);
    }

    [Fact]
    public void With_one_seed_the_standard_error_is_the_binomial_noise_alone()
    {
        var cell = SampleSummary.Of([0.2]);

        Assert.Equal(Math.Sqrt(0.2 * 0.8 / 200), ExperimentStatistics.StandardError(cell, evalPrompts: 200), 12);
    }

    [Fact]
    public void The_standard_error_of_a_difference_is_the_root_of_the_summed_squares()
    {
        Assert.Equal(0.05, ExperimentStatistics.DifferenceStandardError(0.03, 0.04), 12);
    }

    [Theory]
    [InlineData(0.11, 0.05, true)]
    [InlineData(-0.11, 0.05, true)]
    [InlineData(0.09, 0.05, false)]
    [InlineData(0.0, 0.0, false)]
    public void A_difference_is_resolved_beyond_two_standard_errors(double difference, double standardError, bool resolved)
    {
        Assert.Equal(resolved, ExperimentStatistics.Resolves(difference, standardError));
    }

    [Fact]
    public void The_relative_change_over_sft_is_as_the_paper_reports_it()
    {
        Assert.Equal(25.0, ExperimentStatistics.RelativeChangePercent(arm: 0.5, sft: 0.4)!.Value, 9);
        Assert.Equal(61.6, ExperimentStatistics.RelativeChangePercent(arm: 0.404, sft: 0.25)!.Value, 9);
        Assert.Equal(-50.0, ExperimentStatistics.RelativeChangePercent(arm: 0.1, sft: 0.2)!.Value, 9);
    }

    [Fact]
    public void Over_an_sft_of_0_the_change_is_0_for_an_arm_at_0_and_undefined_otherwise_never_nan()
    {
        Assert.Equal(0.0, ExperimentStatistics.RelativeChangePercent(arm: 0, sft: 0));
        Assert.Null(ExperimentStatistics.RelativeChangePercent(arm: 0.1, sft: 0));
        Assert.Equal("n/a: sft 0%", ResultsMarkdown.FormatRelative(ExperimentStatistics.RelativeChangePercent(0.1, 0)));
        Assert.Equal("+61.6%", ResultsMarkdown.FormatRelative(61.6));
        Assert.Equal("-12.5%", ResultsMarkdown.FormatRelative(-12.5));
    }
}
