using Grid.Learning.Advantages;

namespace Grid.Learning.Tests.Advantages;

public sealed class GroupAdvantagesTests
{
    [Theory]
    [InlineData(AdvantageScale.Group)]
    [InlineData(AdvantageScale.Batch)]
    [InlineData(AdvantageScale.None)]
    public void A_group_whose_rewards_are_all_equal_gets_exactly_zero(AdvantageScale scale)
    {
        double[] rewards = [0.1, 0.1, 0.1, 1, 0, 2];

        var advantages = GroupAdvantages.Compute(rewards, groupSize: 3, scale);

        Assert.Equal([0.0, 0.0, 0.0], advantages[..3]);
        Assert.NotEqual(0.0, advantages[4]);
    }

    [Fact]
    public void Group_scale_divides_the_centred_rewards_by_the_bessel_std_plus_1e_4()
    {
        // mean 1, Bessel std sqrt(((1)^2 + 0 + (1)^2) / 2) = 1
        var advantages = GroupAdvantages.Compute([0.0, 1.0, 2.0], groupSize: 3, AdvantageScale.Group);

        Assert.Equal([-1 / 1.0001, 0, 1 / 1.0001], advantages, new ToleranceComparer(1e-12));
    }

    [Fact]
    public void None_scale_only_centres_the_rewards_per_group()
    {
        var advantages = GroupAdvantages.Compute([0.0, 4.0, 10.0, 20.0], groupSize: 2, AdvantageScale.None);

        Assert.Equal([-2.0, 2.0, -5.0, 5.0], advantages);
    }

    [Fact]
    public void A_group_size_below_two_is_refused_naming_group_size()
    {
        // A plain guard: a run's group_size is refused, with the user's message, where the settings are loaded.
        var error = Assert.Throws<ArgumentOutOfRangeException>(
            () => GroupAdvantages.Compute([1.0, 2.0], groupSize: 1, AdvantageScale.Group));

        Assert.Equal("groupSize", error.ParamName);
        Assert.Equal(1, error.ActualValue);
    }

    [Fact]
    public void Rewards_that_do_not_fill_whole_groups_are_refused()
    {
        var error = Assert.Throws<ArgumentException>(
            () => GroupAdvantages.Compute([1.0, 2.0, 3.0], groupSize: 2, AdvantageScale.Group));

        Assert.Contains("3 rewards", error.Message);
        Assert.Contains("group_size = 2", error.Message);
    }

    [Fact]
    public void A_non_finite_reward_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(
            () => GroupAdvantages.Compute([1.0, double.NaN], groupSize: 2, AdvantageScale.Group));

        Assert.Contains("Reward 1 is NaN", error.Message);
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(double obj) => 0;
    }
}
