using Grid.Tasks;

namespace Grid.Training.Rollouts;

/// <summary>A prompt's rollouts, rewarded but without advantages yet.</summary>
public sealed record SampledGroup(int PromptIndex, TaskExample Prompt, int[] PromptTokens, IReadOnlyList<Rollout> Rollouts);
