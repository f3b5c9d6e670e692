using Grid.Learning.Advantages;
using Grid.Learning.Objective;
using Grid.Policy.Checkpoints;
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

/// <summary>A learner restored from saved weights and optimizer state continues exactly as the original would have.</summary>
public sealed class OptimizerStateTests
{
    private const int NewTokens = 3;

    [Fact]
    public void Weights_plus_optimizer_state_resume_bit_for_bit_and_a_fresh_optimizer_does_not()
    {
        manual_seed(11);
        var groups = Enumerable.Range(0, 4).Select(Groups).ToArray();
        using var policy = new VisionLanguagePolicy(PolicyConfig.Tiny, seed: 11);
        using var reference = PolicyRuntime.FrozenCopy(policy, PolicyConfig.Tiny);
        using var learner = NewLearner(policy, reference);
        learner.Update(groups[0], beta: 0.04);
        learner.Update(groups[1], beta: 0.04);
        byte[] weights = PolicyCheckpoint.SerializeWeights(policy);
        byte[] optimizer = learner.SaveOptimizerState();
        double[] expected = [learner.Update(groups[2], 0.04).Loss, learner.Update(groups[3], 0.04).Loss];
        string expectedWeights = PolicyCheckpoint.Sha256Hex(PolicyCheckpoint.SerializeWeights(policy));

        var (resumedLosses, resumedWeights, applied) = Continue(weights, reference, optimizer, groups);
        var (freshLosses, freshWeights, _) = Continue(weights, reference, null, groups);

        Assert.Equal(expected, resumedLosses); // exact: same bits in, same bits out
        Assert.Equal(expectedWeights, resumedWeights);
        Assert.Equal(4, applied);
        Assert.NotEqual(expectedWeights, freshWeights); // the moments matter: without them the run diverges
        Assert.NotEqual(expected[1], freshLosses[1]);
    }

    [Fact]
    public void Optimizer_state_of_another_model_shape_or_damaged_bytes_is_refused_with_a_clear_message()
    {
        using var small = new VisionLanguagePolicy(PolicyConfig.Tiny, seed: 1);
        using var smallRef = PolicyRuntime.FrozenCopy(small, PolicyConfig.Tiny);
        using var smallLearner = NewLearner(small, smallRef);
        var wide = PolicyConfig.Tiny with { DModel = 64 };
        using var big = new VisionLanguagePolicy(wide, seed: 1);
        using var bigRef = PolicyRuntime.FrozenCopy(big, wide);
        using var bigLearner = NewLearner(big, bigRef);
        byte[] state = smallLearner.SaveOptimizerState();

        var shape = Assert.Throws<InvalidDataException>(() => bigLearner.LoadOptimizerState(state));
        var truncated = Assert.Throws<InvalidDataException>(() => smallLearner.LoadOptimizerState(state[..(state.Length / 2)]));

        Assert.Contains("another model shape or optimizer", shape.Message);
        Assert.Contains($"{state.Length / 2} bytes of optimizer state", truncated.Message);
    }

    private static (double[] Losses, string WeightsSha256, long Applied) Continue(byte[] weights,
        VisionLanguagePolicy reference, byte[]? optimizer, ScoredGroup[][] groups)
    {
        using var policy = new VisionLanguagePolicy(PolicyConfig.Tiny);
        PolicyCheckpoint.LoadWeights(policy, weights);
        using var learner = NewLearner(policy, reference);
        if (optimizer is not null)
        {
            learner.LoadOptimizerState(optimizer);
        }

        double[] losses = [learner.Update(groups[2], 0.04).Loss, learner.Update(groups[3], 0.04).Loss];
        return (losses, PolicyCheckpoint.Sha256Hex(PolicyCheckpoint.SerializeWeights(policy)), learner.UpdatesApplied);
    }

    private static GrpoLearner NewLearner(VisionLanguagePolicy policy, VisionLanguagePolicy reference) =>
        new(policy, reference, new GrpoLossSettings { MaxCompletionLength = NewTokens }, learningRate: 1e-2,
            weightDecay: 0.01, maxGradNorm: 1.0);

    /// <summary>Fixed rollouts (sampled from a separate policy) so every learner sees the same batches.</summary>
    private static ScoredGroup[] Groups(int step)
    {
        using var sampler = new VisionLanguagePolicy(PolicyConfig.Tiny, seed: 100 + step);
        var task = TaskCatalog.Get("counting");
        var prompts = Enumerable.Range(0, 2).Select(p => task.Generate(1, (step * 2) + p)).ToArray();
        var requests = prompts.SelectMany((p, i) => Enumerable.Range(0, 4).Select(g =>
            new GenerationRequest(p.Image, PromptFormat.EncodePrompt(p.Question), SamplingSeed.For(1, step, i, g)))).ToArray();
        var rollouts = Policy.Generation.Generator.Generate(sampler, requests, new GenerationSettings(NewTokens)).Select((r, k) =>
            new Rollout(r.Tokens, r.LogProbs, Tokenizer.Default.Decode(r.Tokens), new Reward(k % 3, 0, k % 3))).ToArray();
        var advantages = GroupAdvantages.Compute(rollouts.Select(r => r.Reward.Total).ToArray(), 4, AdvantageScale.Group);
        return prompts.Select((p, i) => new ScoredGroup(step, i, p, PromptFormat.EncodePrompt(p.Question),
            rollouts.Skip(i * 4).Take(4).ToArray(), advantages.Skip(i * 4).Take(4).ToArray())).ToArray();
    }
}
