using static TorchSharp.torch;

namespace Grid.Learning.Objective;

/// <summary>
/// The behaviour log-probs the decoupled objective takes (docs/algorithm.md section 9), built so that only rollouts
/// sampled by an older policy version are reweighted: their rows carry the log-probs recorded at sampling time, and
/// every other row carries the proximal log-probs themselves, whose weight is then exactly 1. The sampler's log-probs of
/// a rollout of the current version differ from the learner's own forward pass by rounding (another batch shape, a KV
/// cache), so using them would move a synchronous step off its bit-exact loss for no gain.
/// </summary>
public static class BehaviourLogProbs
{
    /// <param name="proximalLogp">log pi_prox, [B, T] (the learner's own log-probs, without gradient).</param>
    /// <param name="samplingLogp">log pi_behav as recorded by the sampler, [B, T] (padding: any finite value).</param>
    /// <param name="sampledByOlderVersion">Per row: the rollout was sampled by a policy version older than the proximal one.</param>
    /// <returns>
    /// A new [B, T] tensor without gradient: sampling rows where <paramref name="sampledByOlderVersion"/> is true,
    /// proximal rows elsewhere; or null when no row is stale, so the caller takes the synchronous path.
    /// </returns>
    public static Tensor? Select(Tensor proximalLogp, Tensor samplingLogp, IReadOnlyList<bool> sampledByOlderVersion)
    {
        ArgumentNullException.ThrowIfNull(proximalLogp);
        ArgumentNullException.ThrowIfNull(samplingLogp);
        ArgumentNullException.ThrowIfNull(sampledByOlderVersion);
        if (proximalLogp.dim() != 2 || !samplingLogp.shape.SequenceEqual(proximalLogp.shape))
        {
            throw new ArgumentException(
                $"proximalLogp [{string.Join(", ", proximalLogp.shape)}] and samplingLogp "
                + $"[{string.Join(", ", samplingLogp.shape)}] must both be [B, T].", nameof(samplingLogp));
        }

        if (sampledByOlderVersion.Count != proximalLogp.shape[0])
        {
            throw new ArgumentException(
                $"sampledByOlderVersion has {sampledByOlderVersion.Count} rows but the batch has {proximalLogp.shape[0]}.",
                nameof(sampledByOlderVersion));
        }

        if (!sampledByOlderVersion.Contains(true))
        {
            return null;
        }

        using var scope = NewDisposeScope();
        var proximal = proximalLogp.detach();
        var stale = tensor(sampledByOlderVersion.ToArray(), device: proximal.device).unsqueeze(1);
        var selected = where(stale, samplingLogp.detach().to_type(proximal.dtype), proximal);
        return selected.MoveToOuterDisposeScope();
    }
}
