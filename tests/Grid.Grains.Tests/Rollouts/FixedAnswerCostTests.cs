using System.Diagnostics;
using Grid.Core;
using Grid.Grains.Rollouts;
using Grid.Policy.Generation;
using Grid.Policy.Prompting;
using Grid.Training;
using Grid.Training.Settings;

namespace Grid.Grains.Tests.Rollouts;

/// <summary>The benchmark policy's simulated costs (<c>grid bench --suite async</c>): waits, one request at a time per silo.</summary>
public sealed class FixedAnswerCostTests
{
    [Fact]
    public async Task A_silo_serves_costed_requests_one_at_a_time_and_another_silo_in_parallel()
    {
        // 2 rows x 10 tokens x 10 ms = 0.2 s per request.
        var cost = new FixedAnswerCost(GenerationSecondsPerToken: 0.01, TokensPerCompletion: 10, LearnerSecondsPerSample: 0);
        var silo = new FixedAnswerPolicy(cost);
        var other = new FixedAnswerPolicy(cost);
        var clock = Stopwatch.StartNew();

        var first = silo.AnswerAsync(Request(rows: 2))!;
        var second = silo.AnswerAsync(Request(rows: 2))!;
        var elsewhere = other.AnswerAsync(Request(rows: 2))!;
        await first;
        double firstDone = clock.Elapsed.TotalSeconds;
        await elsewhere;
        double elsewhereDone = clock.Elapsed.TotalSeconds;
        var answered = await second;
        double secondDone = clock.Elapsed.TotalSeconds;

        Assert.InRange(firstDone, 0.18, 0.35);
        Assert.InRange(elsewhereDone, 0.18, 0.35); // its own engine: not queued behind this silo's
        Assert.InRange(secondDone, 0.38, 0.6); // queued behind the first on this silo's engine
        Assert.Equal(2, answered.Count);
        Assert.All(answered, r => Assert.Equal(FixedAnswerPolicy.Completion, PromptFormat.DecodeCompletion(r.Tokens)));
    }

    [Fact]
    public void Without_costs_the_fixed_answer_is_immediate_and_negative_costs_are_refused()
    {
        Assert.True(new FixedAnswerPolicy().AnswerAsync(Request(rows: 3))!.IsCompletedSuccessfully);
        Assert.Throws<ArgumentOutOfRangeException>(() => new FixedAnswerCost(-1, 10, 0).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new FixedAnswerCost(0.01, 10, double.NaN).Validate());
    }

    private static RolloutRequest Request(int rows)
    {
        var config = PolicyRuntime.ConfigFor(new ModelSettings { DModel = 32, Layers = 1, Heads = 2 }, 8);
        var image = new Tasks.Images.RgbImage(config.ImageSize, config.ImageSize, new byte[config.ImageSize * config.ImageSize * 3]);
        var prompt = PromptFormat.EncodePrompt("How many?");
        return new RolloutRequest("bench-run", new WeightReference(new Uri("file:///w"), 0, new string('0', 64)), config,
            new GenerationSettings(8), Enumerable.Range(0, rows).Select(i => new GenerationRequest(image, prompt, (ulong)i)).ToArray());
    }
}
