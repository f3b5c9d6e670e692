using Grid.Learning.Advantages;
using Grid.Learning.Objective;
using Grid.Policy.Generation;
using Grid.Policy.Model;
using Grid.Policy.Prompting;
using Grid.Policy.Tokenization;
using Grid.Tasks;
using Grid.Tasks.Rewards;
using Grid.Training.Learner;
using Grid.Training.Rollouts;
using static TorchSharp.torch;

namespace Grid.Training.Tests;

public sealed class GrpoLearnerTests
{
    private const int Prompts = 8;
    private const int GroupSize = 8;
    private const int NewTokens = 3;

    [Fact]
    public void A_few_grpo_d_steps_raise_the_reward_of_an_easy_task()
    {
        // Easy task: reward = share of completion tokens that are digits. A random policy writes a digit about 10%
        // of the time; GRPO-D with group advantages must push that up within a few updates.
        manual_seed(5);
        using var policy = new VisionLanguagePolicy(PolicyConfig.Tiny, seed: 5);
        using var reference = PolicyRuntime.FrozenCopy(policy, PolicyConfig.Tiny);
        using var learner = new GrpoLearner(policy, reference, new GrpoLossSettings { MaxCompletionLength = NewTokens },
            learningRate: 1e-2, weightDecay: 0, maxGradNorm: 1.0);
        var task = TaskCatalog.Get("counting");

        var rewards = new List<double>();
        for (int step = 0; step < 16; step++)
        {
            var groups = SampleDigitGroups(policy, task, step);
            rewards.Add(groups.SelectMany(g => g.Rollouts).Average(r => r.Reward.Total));
            var report = learner.Update(groups, beta: 0.04);
            Assert.False(report.Skipped);
        }

        double first = rewards.Take(3).Average();
        double last = rewards.TakeLast(3).Average();
        Assert.True(last > first + 0.25, $"reward went from {first:F3} to {last:F3}: {string.Join(", ", rewards.Select(r => r.ToString("F2")))}");
    }

    [Fact]
    public void A_non_finite_loss_skips_the_update_and_leaves_the_weights_untouched()
    {
        manual_seed(6);
        using var policy = new VisionLanguagePolicy(PolicyConfig.Tiny, seed: 6);
        using var reference = PolicyRuntime.FrozenCopy(policy, PolicyConfig.Tiny);
        using var learner = new GrpoLearner(policy, reference, new GrpoLossSettings { MaxCompletionLength = NewTokens },
            learningRate: 1e-2, weightDecay: 0, maxGradNorm: 1.0);
        var groups = SampleDigitGroups(policy, TaskCatalog.Get("counting"), 0);
        var poisoned = groups.Select(g => g with { Advantages = g.Advantages.Select(_ => double.NaN).ToArray() }).ToArray();
        var before = policy.parameters().Select(p => p.detach().clone()).ToArray();

        var report = learner.Update(poisoned, beta: 0.04);

        Assert.True(report.Skipped);
        Assert.Contains("non-finite", report.SkipReason);
        Assert.Equal(1, learner.UpdatesSkipped);
        Assert.Equal(0, learner.UpdatesApplied);
        var after = policy.parameters().ToArray();
        for (int i = 0; i < before.Length; i++)
        {
            Assert.True(before[i].equal(after[i]).all().item<bool>(), $"parameter {i} changed");
        }

        // The next good update still applies.
        Assert.False(learner.Update(groups, beta: 0.04).Skipped);
        Assert.Equal(1, learner.UpdatesApplied);
    }

    [Fact]
    public void Groups_sampled_by_the_version_being_updated_train_bit_for_bit_as_the_synchronous_update()
    {
        // rollouts.max_staleness = 0: every group is sampled by the proximal version, which must change nothing.
        var (sync, syncPolicy) = NewLearner(seed: 7);
        var (tagged, taggedPolicy) = NewLearner(seed: 7);
        using (sync)
        using (syncPolicy)
        using (tagged)
        using (taggedPolicy)
        {
            var groups = SampleDigitGroups(syncPolicy, TaskCatalog.Get("counting"), 0);
            var a = sync.Update(groups, beta: 0.04);
            var b = tagged.Update(groups.Select(g => g with { SamplingVersion = 3 }).ToArray(), beta: 0.04, proximalVersion: 3);

            Assert.Equal(a.Loss, b.Loss);
            Assert.Equal(a.GradNorm, b.GradNorm);
            Assert.Equal(ImportanceWeightStatistics.Synchronous, b.Weights);
            AssertSameParameters(syncPolicy, taggedPolicy);
        }
    }

    [Fact]
    public void Groups_sampled_by_an_older_version_are_reweighted_by_the_proximal_over_the_behaviour_policy()
    {
        var (learner, policy) = NewLearner(seed: 8);
        using (learner)
        using (policy)
        {
            var task = TaskCatalog.Get("counting");
            var old = SampleDigitGroups(policy, task, 0); // sampled by version 0
            Assert.False(learner.Update(SampleDigitGroups(policy, task, 1), beta: 0.04).Skipped); // now version 1

            // The same rollouts, trained once as if version 1 had sampled them and once as sampled by version 0.
            var (twin, twinPolicy) = NewLearner(seed: 8);
            using (twin)
            using (twinPolicy)
            {
                twin.Update(SampleDigitGroups(twinPolicy, task, 1), beta: 0.04);
                var asCurrent = twin.Update(old, beta: 0.04, proximalVersion: 1);
                var asOld = learner.Update(old.Select(g => g with { SamplingVersion = 0 }).ToArray(), beta: 0.04, proximalVersion: 1);

                Assert.Equal(ImportanceWeightStatistics.Synchronous, asCurrent.Weights);
                Assert.False(asOld.Skipped);
                Assert.NotEqual(1.0, asOld.Weights.Mean);
                Assert.True(asOld.Weights.Max > 1, $"max importance weight {asOld.Weights.Max}");
                Assert.NotEqual(asCurrent.Loss, asOld.Loss);
            }
        }
    }

    private static (GrpoLearner Learner, VisionLanguagePolicy Policy) NewLearner(int seed)
    {
        manual_seed(seed);
        var policy = new VisionLanguagePolicy(PolicyConfig.Tiny, seed: seed);
        var reference = PolicyRuntime.FrozenCopy(policy, PolicyConfig.Tiny);
        return (new GrpoLearner(policy, reference, new GrpoLossSettings { MaxCompletionLength = NewTokens },
            learningRate: 1e-2, weightDecay: 0, maxGradNorm: 1.0), policy);
    }

    private static void AssertSameParameters(VisionLanguagePolicy expected, VisionLanguagePolicy actual)
    {
        var a = expected.parameters().ToArray();
        var b = actual.parameters().ToArray();
        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(a[i].equal(b[i]).all().item<bool>(), $"parameter {i} differs");
        }
    }

    private static ScoredGroup[] SampleDigitGroups(VisionLanguagePolicy policy, IVisualTask task, int step)
    {
        var prompts = Enumerable.Range(0, Prompts).Select(p => task.Generate(1, (step * Prompts) + p)).ToArray();
        var requests = prompts.SelectMany((p, i) => Enumerable.Range(0, GroupSize).Select(g =>
            new GenerationRequest(p.Image, PromptFormat.EncodePrompt(p.Question), SamplingSeed.For(1, step, i, g)))).ToArray();
        var results = Policy.Generation.Generator.Generate(policy, requests, new GenerationSettings(NewTokens));
        var rollouts = results.Select(r =>
        {
            string text = Tokenizer.Default.Decode(r.Tokens);
            double digits = r.Tokens.Length == 0 ? 0 : text.Count(char.IsAsciiDigit) / (double)NewTokens;
            return new Rollout(r.Tokens, r.LogProbs, text, new Reward(digits, 0, digits));
        }).ToArray();
        var advantages = GroupAdvantages.Compute(rollouts.Select(r => r.Reward.Total).ToArray(), GroupSize, AdvantageScale.Group);
        return prompts.Select((p, i) => new ScoredGroup(step, i, p, PromptFormat.EncodePrompt(p.Question),
            rollouts.Skip(i * GroupSize).Take(GroupSize).ToArray(), advantages.Skip(i * GroupSize).Take(GroupSize).ToArray())).ToArray();
    }
}
