using Grid.Tasks.Rewards;

namespace Grid.Training.Rollouts;

/// <summary>One sampled and scored completion.</summary>
/// <param name="CompletionTokens">Generated tokens, EOS included when the policy produced it.</param>
/// <param name="SamplingLogProbs">Log-prob of each generated token under the sampling policy.</param>
/// <param name="Text">The decoded completion the verifier scored.</param>
/// <param name="Reward">Accuracy, format and total reward.</param>
public sealed record Rollout(int[] CompletionTokens, float[] SamplingLogProbs, string Text, Reward Reward);
