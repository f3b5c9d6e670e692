using System.Diagnostics;
using Grid.Tasks.Verification;

namespace Grid.Tasks.Tests.Verification;

public sealed class TaskVerifierTests
{
    private readonly TaskVerifier _verifier = new();

    public static TheoryData<string> TaskNames => new(TaskCatalog.Names);

    private static TaskExample Example(string answer) => TaskCatalog.Get("geometry").Generate(0, 0) with { Answer = answer };

    [Theory]
    [MemberData(nameof(TaskNames))]
    public void Reference_completion_scores_two(string taskName)
    {
        for (int index = 0; index < 50; index++)
        {
            var example = TaskCatalog.Get(taskName).Generate(seed: 11, index);
            var reward = _verifier.Score(example, example.ReferenceCompletion);
            Assert.Equal((1.0, 1.0, 2.0), (reward.Accuracy, reward.Format, reward.Total));
        }
    }

    [Theory]
    [MemberData(nameof(TaskNames))]
    public void Well_formed_wrong_answer_scores_one(string taskName)
    {
        var example = TaskCatalog.Get(taskName).Generate(seed: 11, 0);
        string wrong = (int.Parse(example.Answer) + 1).ToString();
        var reward = _verifier.Score(example, $"<think>{example.Reasoning}</think><answer>{wrong}</answer>");
        Assert.Equal((0.0, 1.0, 1.0), (reward.Accuracy, reward.Format, reward.Total));
    }

    [Fact]
    public void Format_weight_scales_the_format_reward()
    {
        var example = Example("70");
        Assert.Equal(1.5, new TaskVerifier(formatWeight: 0.5).Score(example, "<think>x</think><answer>70</answer>").Total);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TaskVerifier(formatWeight: -1));
    }

    [Fact]
    public void Decimal_spelling_of_the_right_number_is_correct() =>
        Assert.Equal(2.0, _verifier.Score(Example("70"), "<think>40+30=70</think><answer>70.0</answer>").Total);

    [Fact]
    public void Several_answer_tags_earn_nothing() =>
        Assert.Equal(0.0, _verifier.Score(Example("70"), "<think>t</think><answer>70</answer><answer>20</answer>").Total);

    [Fact]
    public void Tags_in_the_wrong_order_earn_accuracy_but_no_format()
    {
        var reward = _verifier.Score(Example("70"), "<answer>70</answer><think>t</think>");
        Assert.Equal((1.0, 0.0), (reward.Accuracy, reward.Format));
    }

    [Theory]
    [InlineData("70")]
    [InlineData("<think>40+30=70</think>")]
    [InlineData("<think>40+30=70</think><answer>70")]
    [InlineData("")]
    public void Missing_tags_earn_nothing(string completion) =>
        Assert.Equal(0.0, _verifier.Score(Example("70"), completion).Total);

    [Theory]
    [InlineData("٧٠")]
    [InlineData("７０")]
    public void Unicode_digits_are_not_the_number(string digits) =>
        Assert.Equal(0.0, _verifier.Score(Example("70"), $"<think>t</think><answer>{digits}</answer>").Accuracy);

    [Fact]
    public void A_one_megabyte_completion_is_scored_quickly()
    {
        string completion = "<think>" + new string('9', 1 << 20) + "</think><answer>70</answer><answer>";
        var watch = Stopwatch.StartNew();
        var reward = _verifier.Score(Example("70"), completion);
        watch.Stop();
        Assert.Equal(0.0, reward.Total);
        Assert.True(watch.ElapsedMilliseconds < 200, $"took {watch.ElapsedMilliseconds} ms");
    }
}
