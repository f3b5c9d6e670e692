using Grid.Core;
using Grid.Hosting.Weights;
using Grid.Policy.Generation;
using Grid.Policy.Model;

namespace Grid.Grains.Rollouts;

/// <summary>
/// One prompt group's ask of the rollout engine: completions for <paramref name="Requests"/> (image, prompt, seed)
/// sampled from the run's policy at the version <paramref name="Weights"/> holds.
/// </summary>
public sealed record RolloutRequest(
    string RunId,
    WeightReference Weights,
    PolicyConfig Config,
    GenerationSettings Settings,
    IReadOnlyList<GenerationRequest> Requests);
