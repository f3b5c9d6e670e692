using Grid.Core;
using Grid.Learning.Advantages;
using Grid.Learning.Objective;
using Grid.Policy.Generation;
using Grid.Policy.Model;
using Grid.Policy.Prompting;
using Grid.Policy.Tokenization;
using Grid.Tasks;
using Grid.Tasks.Rewards;
using Grid.Tasks.Verification;
using Grid.Training.Learner;
using Grid.Training.Metrics;
using Grid.Training.Rollouts;
using static TorchSharp.torch;

namespace Grid.Training.Tests;

/// <summary>
/// The one GRPO-D step the in-process loop and the grid's learner share, against the steps it replaced in the loop
/// (advantages from the scorer, <see cref="GrpoLearner.Update"/> with the step's beta, <see cref="StepMetricsBuilder"/>).
/// </summary>
public sealed class GrpoStepServiceTests
{
    private const int Prompts = 4;
    private const int GroupSize = 4;
    private const int NewTokens = 3;

    [Theory]
    [InlineData(AdvantageScale.Group)]
    [InlineData(AdvantageScale.Batch)]
    public void The_service_computes_the_same_advantages_losses_weights_and_metrics_as_the_loop_s_own_steps_bit_for_bit(
        AdvantageScale scale)
    {
        manual_seed(11);
        using var policy = new VisionLanguagePolicy(PolicyConfig.Tiny, seed: 11);
        using var twin = new VisionLanguagePolicy(PolicyConfig.Tiny, seed: 11);
        using var reference = PolicyRuntime.FrozenCopy(policy, PolicyConfig.Tiny);
        using var learner = NewLearner(policy, reference);
        using var twinLearner = NewLearner(twin, reference);
        var scorer = new GroupScorer(new TaskVerifier(0.1), scale);
        var service = new GrpoStepService(twinLearner, new GroupScorer(new TaskVerifier(0.1), scale));
        var task = TaskCatalog.Get("counting");

        double[] betas = [0.0, 0.04, 0.1];
        for (int step = 0; step < betas.Length; step++)
        {
            var sampled = SampleDigitGroups(policy, task, step);
            var groups = scorer.Group(step, sampled);
            var report = learner.Update(groups, betas[step]);
            var expected = StepMetricsBuilder.Build(step, betas[step], groups, report, 1, 2, 3);

            var update = service.Apply(step, betas[step], service.Advantages(step, sampled));
            var metrics = update.Metrics(1, 2, 3);

            Assert.Equal(groups.SelectMany(g => g.Advantages), update.Groups.SelectMany(g => g.Advantages));
            Assert.Equal(BitConverter.DoubleToInt64Bits(report.Loss), BitConverter.DoubleToInt64Bits(update.Report.Loss));
            Assert.Equal(BitConverter.DoubleToInt64Bits(report.MeanKl), BitConverter.DoubleToInt64Bits(update.Report.MeanKl));
            Assert.True(update.Report.GradNorm > 0, "the step moved nothing: advantages all 0");
            Assert.Equal(expected.NonFiniteMetrics, metrics.NonFiniteMetrics);
            Assert.Equal([groups.Count], metrics.StalenessGroups); // every group sampled by the current policy: lag 0
            Assert.Equal(expected.StalenessGroups, metrics.StalenessGroups);
            Assert.Equal(Timeless(expected), Timeless(metrics));
        }

        var trained = policy.parameters().ToArray();
        var twinTrained = twin.parameters().ToArray();
        for (int i = 0; i < trained.Length; i++)
        {
            Assert.True(trained[i].equal(twinTrained[i]).all().item<bool>(), $"parameter {i} differs");
        }
    }

    [Fact]
    public void A_step_whose_groups_all_failed_is_a_skipped_update_that_leaves_the_learner_untouched()
    {
        using var policy = new VisionLanguagePolicy(PolicyConfig.Tiny, seed: 12);
        using var reference = PolicyRuntime.FrozenCopy(policy, PolicyConfig.Tiny);
        using var learner = NewLearner(policy, reference);
        var service = new GrpoStepService(learner, new GroupScorer(new TaskVerifier(0.1), AdvantageScale.Group));

        var update = service.Apply(7, 0.04, []);

        Assert.True(update.Report.Skipped);
        Assert.Equal("every group of step 7 failed", update.Report.SkipReason);
        Assert.Equal((0L, 0L), (learner.UpdatesApplied, learner.UpdatesSkipped));
        Assert.Equal(7, update.Metrics(0, 0, 0).Step);
        Assert.Equal(0.04, update.Metrics(0, 0, 0).Beta);
    }

    /// <summary>The metrics without what differs between two runs of the same step: times and the process's memory.</summary>
    private static StepMetrics Timeless(StepMetrics metrics) => metrics with
    {
        SecondsReference = 0,
        SecondsUpdate = 0,
        SecondsTotal = 0,
        ProcessRssBytes = 0,
        StalenessGroups = [], // an array, equal by reference in the record: compared element-wise above
    };

    private static GrpoLearner NewLearner(VisionLanguagePolicy policy, VisionLanguagePolicy reference) =>
        new(policy, reference, new GrpoLossSettings { MaxCompletionLength = NewTokens }, learningRate: 1e-2,
            weightDecay: 0, maxGradNorm: 1.0);

    /// <summary>Rollouts rewarded by their tokens, so advantages and losses are not all zero.</summary>
    private static SampledGroup[] SampleDigitGroups(VisionLanguagePolicy policy, IVisualTask task, int step)
    {
        var prompts = Enumerable.Range(0, Prompts).Select(p => task.Generate(1, (step * Prompts) + p)).ToArray();
        var requests = prompts.SelectMany((p, i) => Enumerable.Range(0, GroupSize).Select(g =>
            new GenerationRequest(p.Image, PromptFormat.EncodePrompt(p.Question), SamplingSeed.For(1, step, i, g)))).ToArray();
        var results = Policy.Generation.Generator.Generate(policy, requests, new GenerationSettings(NewTokens, Temperature: 2.0));
        var rollouts = results.Select(r =>
        {
            string text = Tokenizer.Default.Decode(r.Tokens);
            double reward = r.Tokens.Sum() % 4 / 3.0; // varies within a group, so advantages and the loss are not 0
            return new Rollout(r.Tokens, r.LogProbs, text, new Reward(reward, 0, reward));
        }).ToArray();
        return prompts.Select((p, i) => new SampledGroup(i, p, PromptFormat.EncodePrompt(p.Question),
            rollouts.Skip(i * GroupSize).Take(GroupSize).ToArray())).ToArray();
    }
}
