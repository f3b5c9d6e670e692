using Grid.Tasks.Rewards;

namespace Grid.Tasks.Tests.OwnData;

/// <summary>The multiple-choice, numeric and text answer kinds, including hostile completions.</summary>
public sealed class AnswerRuleTests
{
    private static readonly RewardFunction Reward = new(formatWeight: 0.5);

    [Theory]
    [InlineData("B")]
    [InlineData("b")]
    [InlineData("(b)")]
    [InlineData("B.")]
    [InlineData(" b ")]
    [InlineData("[B]")]
    [InlineData("B)")]
    [InlineData("'B'")]
    [InlineData("**B**")]
    public void Choice_forgives_case_and_punctuation(string answer) =>
        Assert.True(AnswerRule.Choice.Matches(answer, "B"));

    [Theory]
    [InlineData("A")]
    [InlineData("AB")]
    [InlineData("A B")]
    [InlineData("B or C")]
    [InlineData("B, C")]
    [InlineData("option B")]
    [InlineData("The answer is B")]
    [InlineData("")]
    [InlineData("Ｂ")]
    [InlineData("ABCD")]
    public void Choice_refuses_other_letters_and_hedges(string answer) =>
        Assert.False(AnswerRule.Choice.Matches(answer, "B"));

    [Fact]
    public void Hostile_completions_earn_no_accuracy()
    {
        string[] hostile =
        [
            "<think>x</think><answer>B</answer><answer>C</answer>",
            "<think>x</think><answer>A</answer> B",
            "<think>x</think><answer>" + new string('B', 100_000) + "</answer>",
            "<answer>",
            "B",
        ];
        foreach (string completion in hostile)
        {
            Assert.Equal(0, Reward.Score(completion, "B", AnswerRule.Choice).Accuracy);
            Assert.Equal(0, Reward.Score(completion, "b", AnswerRule.Text).Accuracy);
        }
    }

    [Fact]
    public void The_reward_stays_accuracy_plus_alpha_times_format()
    {
        var reward = Reward.Score("<think>x</think><answer>(c)</answer>", "C", AnswerRule.Choice);
        Assert.Equal((1, 1, 1.5), (reward.Accuracy, reward.Format, reward.Total));
        Assert.Equal(0.5, Reward.Score("<think>x</think><answer>D</answer>", "C", AnswerRule.Choice).Total);
    }

    [Theory]
    [InlineData("3.14", "3.14159", 0.01, true)]
    [InlineData("3.2", "3.14159", 0.01, false)]
    [InlineData(" -2 ", "-2.0", 0, true)]
    [InlineData("2", "2.0001", 0, false)]
    [InlineData("1e3", "1000", 0, false)]
    [InlineData("٣", "3", 0, false)]
    [InlineData("3 cm", "3", 0, false)]
    public void Numeric_compares_values_within_the_tolerance(string answer, string truth, double tolerance, bool expected) =>
        Assert.Equal(expected, AnswerRule.Numeric((decimal)tolerance).Matches(answer, truth));

    [Theory]
    [InlineData("  Red   cube ", "red cube", true)]
    [InlineData("RED\tCUBE", "red cube", true)]
    [InlineData("cafe\u0301", "café", true)] // decomposed vs precomposed: equal after NFC
    [InlineData("ÉCOLE", "école", true)]
    [InlineData("redcube", "red cube", false)]
    [InlineData("red cube.", "red cube", false)]
    public void Text_compares_after_normalisation(string answer, string truth, bool expected) =>
        Assert.Equal(expected, AnswerRule.Text.Matches(answer, truth));

    [Fact]
    public void Text_refuses_overlong_answers_and_lone_surrogates()
    {
        Assert.False(AnswerRule.Text.Matches(new string('a', 2000), new string('a', 2000)));
        Assert.False(AnswerRule.Text.Matches("\uD800", "\uD800"));
    }

    [Fact]
    public void Auto_is_the_built_in_matcher()
    {
        foreach (var (answer, truth) in new[] { ("70", "70.0"), (" 7 ", "7"), ("ab", "AB"), ("7", "8"), ("٧", "7") })
        {
            Assert.Equal(AnswerMatcher.Matches(answer, truth), AnswerRule.Auto.Matches(answer, truth));
        }
    }

    [Fact]
    public void Ground_truths_the_kind_cannot_parse_are_named()
    {
        Assert.Null(AnswerRule.Choice.Refusal("(d)"));
        Assert.NotNull(AnswerRule.Choice.Refusal("E"));
        Assert.NotNull(AnswerRule.Numeric().Refusal("x"));
        Assert.NotNull(new AnswerRule(AnswerKind.Text, 1).Refusal("x"));
        Assert.NotNull(AnswerRule.Text.Refusal(new string('a', 300)));
    }

    [Theory]
    [InlineData("\u1100\u1161\u11A8", "\uAC01")]
    [InlineData("A\u030A", "\u00C5")]
    [InlineData("\u212B", "\u00C5")]
    [InlineData("e\u0302\u0323", "\u1EC7")]
    [InlineData("\u1E9B\u0323", "\u1E9B\u0323")]
    [InlineData("q\u0307\u0323", "q\u0323\u0307")]
    [InlineData("\u0958", "\u0915\u093C")]
    [InlineData("a\u0301\u0301", "\u00E1\u0301")]
    [InlineData("\uAC00\u11A8", "\uAC01")]
    public void Nfc_agrees_with_the_unicode_reference(string text, string nfc) =>
        Assert.Equal(nfc, UnicodeNfc.Normalize(text));
}
