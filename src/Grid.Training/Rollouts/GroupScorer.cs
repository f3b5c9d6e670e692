using Grid.Learning.Advantages;
using Grid.Policy.Generation;
using Grid.Policy.Prompting;
using Grid.Policy.Tokenization;
using Grid.Tasks;
using Grid.Tasks.Verification;

namespace Grid.Training.Rollouts;

/// <summary>Turns a prompt's generated completions into a <see cref="ScoredGroup"/>: decode, verify, advantages.</summary>
public sealed class GroupScorer
{
    private readonly TaskVerifier _verifier;
    private readonly AdvantageScale _scale;
    private readonly IPromptCodec _codec;

    /// <param name="codec">How the policy writes text (its tokenizer); default <see cref="Tokenizer.Default"/>.</param>
    public GroupScorer(TaskVerifier verifier, AdvantageScale scale, IPromptCodec? codec = null)
    {
        _verifier = verifier;
        _scale = scale;
        _codec = codec ?? Tokenizer.Default;
    }

    public IReadOnlyList<Rollout> ScoreRollouts(TaskExample prompt, IReadOnlyList<GenerationResult> completions) =>
        completions.Select(c =>
        {
            string text = _codec.DecodeCompletion(c.Tokens);
            return new Rollout(c.Tokens, c.LogProbs, text, _verifier.Score(prompt, text));
        }).ToArray();

    /// <summary>Advantages for a whole step at once: <c>batch</c> scaling needs every group's rewards.</summary>
    public IReadOnlyList<ScoredGroup> Group(long step, IReadOnlyList<SampledGroup> groups)
    {
        if (groups.Count == 0)
        {
            return [];
        }

        int groupSize = groups[0].Rollouts.Count;
        var rewards = groups.SelectMany(g => g.Rollouts.Select(r => r.Reward.Total)).ToArray();
        var advantages = GroupAdvantages.Compute(rewards, groupSize, _scale);
        return groups.Select((g, i) => new ScoredGroup(step, g.PromptIndex, g.Prompt, g.PromptTokens, g.Rollouts,
            advantages.AsSpan(i * groupSize, groupSize).ToArray())).ToArray();
    }
}
