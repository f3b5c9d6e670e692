using System.Diagnostics;
using Grid.Tasks.Rewards;

namespace Grid.Tasks.Tests.Rewards;

public sealed class RewardFunctionTests
{
    private static readonly RewardFunction s_reward = new();

    [Fact]
    public void A_well_formed_correct_completion_scores_two_with_alpha_one()
    {
        var reward = s_reward.Score("<think>7 rows of 10</think>\n<answer>70</answer>", "70");

        Assert.Equal(new Reward(Accuracy: 1, Format: 1, Total: 2), reward);
    }

    [Fact]
    public void A_well_formed_wrong_answer_scores_the_format_reward_only()
    {
        var reward = s_reward.Score("<think>about 60</think><answer>60</answer>", "70");

        Assert.Equal(new Reward(Accuracy: 0, Format: 1, Total: 1), reward);
    }

    [Fact]
    public void Alpha_weights_the_format_reward()
    {
        var reward = new RewardFunction(formatWeight: 0.5).Score("<think>t</think> <answer>70</answer>", "70");

        Assert.Equal(1.5, reward.Total);
    }

    [Fact]
    public void A_negative_alpha_is_refused_naming_format_weight()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new RewardFunction(-1));

        Assert.Contains("format_weight", error.Message);
        Assert.Contains(">= 0", error.Message);
    }

    [Theory]
    [InlineData("70")]
    [InlineData("70.0")]
    [InlineData(" 70 ")]
    [InlineData("\n70\n")]
    [InlineData("+70")]
    public void Numerically_equal_answers_are_correct(string answer)
    {
        var reward = s_reward.Score($"<think>x</think><answer>{answer}</answer>", "70");

        Assert.Equal(1, reward.Accuracy);
    }

    [Theory]
    [InlineData("٧٠")]          // Arabic-Indic digits
    [InlineData("７０")]          // full-width digits
    [InlineData("70 apples")]
    [InlineData("7 0")]
    [InlineData("71")]
    [InlineData("")]
    public void Answers_that_are_not_the_ascii_number_are_wrong(string answer)
    {
        var reward = s_reward.Score($"<think>x</think><answer>{answer}</answer>", "70");

        Assert.Equal(0, reward.Accuracy);
    }

    [Fact]
    public void Text_answers_compare_trimmed_and_ignoring_case()
    {
        var reward = s_reward.Score("<think>x</think><answer> Triangle </answer>", "triangle");

        Assert.Equal(1, reward.Accuracy);
    }

    [Fact]
    public void Several_answer_blocks_are_neither_correct_nor_well_formed()
    {
        var reward = s_reward.Score("<think>x</think><answer>70</answer><answer>71</answer>", "70");

        Assert.Equal(new Reward(0, 0, 0), reward);
    }

    [Fact]
    public void A_nested_answer_tag_is_not_credited()
    {
        var reward = s_reward.Score("<think>x</think><answer>70<answer>70</answer>", "70");

        Assert.Equal(new Reward(0, 0, 0), reward);
    }

    [Theory]
    [InlineData("<answer>70</answer><think>x</think>")]
    [InlineData("</think>x<think><answer>70</answer>")]
    [InlineData("<think>x</think><answer>70</answer> trailing")]
    [InlineData("preamble <think>x</think><answer>70</answer>")]
    [InlineData("<think>x<answer>70</answer>")]
    [InlineData("<think>x</think>")]
    [InlineData("70")]
    [InlineData("<think>a</think><think>b</think><answer>70</answer>")]
    public void Tags_out_of_order_missing_or_surrounded_by_text_are_not_well_formed(string completion)
    {
        var reward = s_reward.Score(completion, "70");

        Assert.Equal(0, reward.Format);
    }

    [Fact]
    public void An_answer_in_a_malformed_completion_still_earns_the_accuracy_reward()
    {
        var reward = s_reward.Score("I think <answer>70</answer>", "70");

        Assert.Equal(new Reward(Accuracy: 1, Format: 0, Total: 1), reward);
    }

    [Fact]
    public void An_unclosed_answer_is_wrong()
    {
        var reward = s_reward.Score("<think>x</think><answer>70", "70");

        Assert.Equal(new Reward(0, 0, 0), reward);
    }

    [Fact]
    public void Newlines_inside_the_blocks_are_allowed()
    {
        Assert.True(CompletionFormat.IsWellFormed("<think>\nline one\nline two\n</think>\n\n<answer>\n70\n</answer>"));
    }

    [Fact]
    public void An_empty_completion_scores_zero()
    {
        Assert.Equal(new Reward(0, 0, 0), s_reward.Score("", "70"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_one_megabyte_completion_is_scored_in_well_under_a_second(bool wellFormed)
    {
        const string chunk = "<thin <answe </answe 7 "; // near-miss tags keep the scanners busy
        string filler = string.Concat(Enumerable.Repeat(chunk, (1_000_000 / chunk.Length) + 1));
        string completion = wellFormed
            ? $"<think>{filler}</think><answer>70</answer>"
            : $"<think>{filler}<answer>{filler}";
        s_reward.Score("<think>warm up</think><answer>70</answer>", "70");

        var clock = Stopwatch.StartNew();
        var reward = s_reward.Score(completion, "70");
        clock.Stop();

        Assert.True(completion.Length >= 1_000_000);
        Assert.Equal(wellFormed ? 2 : 0, reward.Total);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"scoring took {clock.Elapsed.TotalMilliseconds} ms");
    }
}
