using Grid.Contracts.Rollouts;
using Grid.Policy.Prompting;
using Grid.Policy.Tokenization;
using Grid.Tasks;
using Grid.Tasks.Rewards;
using Grid.Training.Rollouts;

namespace Grid.Grains.Mapping;

/// <summary>
/// Scored groups to the wire and back. The wire form has no image: the prompt is regenerated from the run seed,
/// step and prompt index, exactly as the prompt group drew it.
/// </summary>
public static class ScoredGroups
{
    public static ScoredGroupRecord ToRecord(ScoredGroup group, long policyVersion, double secondsRollout, double secondsReward) =>
        new(group.Step, group.PromptIndex, policyVersion,
            group.Rollouts.Select(r => new RolloutRecord(r.CompletionTokens, r.SamplingLogProbs, r.Text,
                r.Reward.Accuracy, r.Reward.Format, r.Reward.Total)).ToArray(),
            group.Advantages, secondsRollout, secondsReward);

    /// <summary>The prompt of <paramref name="promptIndex"/> at <paramref name="step"/>, as every part of the grid draws it.</summary>
    /// <param name="codec">How the run's policy reads prompts; default <see cref="Tokenizer.Default"/>.</param>
    public static (TaskExample Prompt, int[] PromptTokens) Prompt(PromptSource source, IVisualTask task, long step,
        int promptIndex, int promptsPerStep, IPromptCodec? codec = null)
    {
        var prompt = source.ForStep(task, step, promptIndex, promptsPerStep);
        return (prompt, (codec ?? Tokenizer.Default).EncodePrompt(prompt.Image, prompt.Question));
    }

    public static SampledGroup ToSampled(ScoredGroupRecord record, PromptSource source, IVisualTask task, int promptsPerStep,
        IPromptCodec? codec = null)
    {
        var (prompt, tokens) = Prompt(source, task, record.Step, record.PromptIndex, promptsPerStep, codec);
        return new SampledGroup(record.PromptIndex, prompt, tokens, record.Rollouts.Select(r =>
            new Rollout(r.CompletionTokens, r.SamplingLogProbs, r.Text, new Reward(r.Accuracy, r.Format, r.Reward))).ToArray());
    }

    public static ScoredGroup ToScored(ScoredGroupRecord record, PromptSource source, IVisualTask task, int promptsPerStep,
        IPromptCodec? codec = null)
    {
        var sampled = ToSampled(record, source, task, promptsPerStep, codec);
        return new ScoredGroup(record.Step, record.PromptIndex, sampled.Prompt, sampled.PromptTokens, sampled.Rollouts,
            record.Advantages)
        { SamplingVersion = record.PolicyVersion };
    }
}
