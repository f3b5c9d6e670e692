using Grid.Core.Settings;
using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Learning.Objective;

/// <summary>
/// The clipped GRPO objective with the k3 KL penalty (docs/algorithm.md section 3, the paper's Eq. 4 and 5), aggregated
/// as in TRL's GRPOTrainer so the numbers compare with it; and its decoupled form for rollouts sampled by an older
/// policy version (section 9, AReaL's decoupled PPO objective), which is exactly section 3 when no behaviour
/// log-probs are given.
/// </summary>
public static class GrpoLoss
{
    /// <param name="logp">log pi_theta of each completion token, [B, T]; gradients flow through it.</param>
    /// <param name="oldLogp">log pi_old at sampling time, [B, T] (equal to <c>logp.detach()</c> with one pass).</param>
    /// <param name="refLogp">log pi_ref, [B, T].</param>
    /// <param name="advantages">A_i per completion, [B] (Eq. 2).</param>
    /// <param name="mask">1 for generated tokens up to and including EOS, 0 for padding, [B, T].</param>
    /// <param name="beta">The KL weight for this step, from the KL controller.</param>
    /// <param name="settings">Clip range and aggregation.</param>
    public static GrpoLossResult Compute(Tensor logp, Tensor oldLogp, Tensor refLogp, Tensor advantages, Tensor mask,
        double beta, GrpoLossSettings settings) =>
        ComputeDecoupled(logp, oldLogp, behaviourLogp: null, refLogp, advantages, mask, beta, settings);

    /// <summary>
    /// The decoupled objective (docs/algorithm.md section 9): the ratio is taken, and clipped, against the proximal
    /// policy, and each token's policy term is weighted by w = pi_prox / pi_behav (no gradient), capped as
    /// <see cref="GrpoLossSettings.MaxImportanceWeight"/> and <see cref="GrpoLossSettings.ImportanceWeightCap"/> say.
    /// With <paramref name="behaviourLogp"/> null this is <see cref="Compute"/>, operation for operation; a token whose
    /// behaviour log-prob equals its proximal one gets w = 1 exactly, so passing the proximal log-probs as behaviour
    /// gives bit-identical losses and gradients too (<see cref="BehaviourLogProbs.Select"/> does that for the rows
    /// sampled by the policy being updated).
    /// </summary>
    /// <param name="logp">log pi_theta of each completion token, [B, T]; gradients flow through it.</param>
    /// <param name="proximalLogp">
    /// log pi_prox, [B, T]: the learner's weights just before this update, without gradient (<c>logp.detach()</c>
    /// with one optimisation pass per batch).
    /// </param>
    /// <param name="behaviourLogp">
    /// log pi_behav, [B, T]: the log-probs recorded when the policy version that sampled the rollout generated it; null
    /// when every rollout was sampled by the proximal policy (the synchronous run). Ignored on padding.
    /// </param>
    /// <param name="refLogp">log pi_ref, [B, T].</param>
    /// <param name="advantages">A_i per completion, [B] (Eq. 2).</param>
    /// <param name="mask">1 for generated tokens up to and including EOS, 0 for padding, [B, T].</param>
    /// <param name="beta">The KL weight of this learner step, from the KL controller.</param>
    /// <param name="settings">Clip range, aggregation and the importance-weight cap.</param>
    public static GrpoLossResult ComputeDecoupled(Tensor logp, Tensor proximalLogp, Tensor? behaviourLogp, Tensor refLogp,
        Tensor advantages, Tensor mask, double beta, GrpoLossSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        if (!(beta >= 0 && double.IsFinite(beta)))
        {
            throw new InvalidSettingException("beta", beta, "a finite number >= 0");
        }

        CheckShapes(logp, proximalLogp, behaviourLogp, refLogp, advantages, mask);

        using var scope = NewDisposeScope();
        double epsLow = settings.EpsLow, epsHigh = settings.EpsHigh;
        var a = advantages.to_type(logp.dtype).detach().unsqueeze(1);
        var old = proximalLogp.to_type(logp.dtype).detach();
        var reference = refLogp.to_type(logp.dtype).detach();
        var m = mask.to_type(logp.dtype).detach();

        var ratio = exp(logp - old);                                                  // rho = pi_theta / pi_old
        var clippedRatio = ratio.clamp(1 - epsLow, 1 + epsHigh);
        var surrogate = -minimum(ratio * a, clippedRatio * a);                        // Eq. 4, clipped surrogate
        (Tensor Raw, Tensor Applied, Tensor Capped)? weights =
            behaviourLogp is null ? null : ImportanceWeights(old, behaviourLogp, m, settings);
        var policyTerm = weights is null ? surrogate : surrogate * weights.Value.Applied; // section 9: w * surrogate
        var logRefRatio = reference - logp;
        var kl = exp(logRefRatio) - logRefRatio - 1;                                  // Eq. 5, k3 estimator, >= 0
        var perTokenLoss = policyTerm + (beta * kl);                                  // l_{i,t}

        var tokens = m.sum().clamp_min(1.0);
        var loss = settings.LossType switch
        {
            LossType.Grpo => ((perTokenLoss * m).sum(-1) / m.sum(-1).clamp_min(1.0)).mean(),
            LossType.Bnpo => (perTokenLoss * m).sum() / tokens,
            LossType.DrGrpo => (perTokenLoss * m).sum() / ((double)logp.shape[0] * settings.MaxCompletionLength),
            _ => throw new InvalidSettingException("loss_type", settings.LossType,
                InvalidSettingException.OneOf(SettingNames<LossType>.All)),
        };

        double clipFraction, clipFractionLow, clipFractionHigh, meanKl;
        var importance = ImportanceWeightStatistics.Synchronous;
        using (no_grad())
        {
            var clippedLow = (ratio < 1 - epsLow).logical_and(a < 0);
            var clippedHigh = (ratio > 1 + epsHigh).logical_and(a > 0);
            clipFractionLow = MaskedMean(clippedLow, m, tokens);
            clipFractionHigh = MaskedMean(clippedHigh, m, tokens);
            clipFraction = MaskedMean(clippedLow.logical_or(clippedHigh), m, tokens);
            meanKl = MaskedMean(kl, m, tokens);
            if (weights is { } w)
            {
                var generated = m > 0;
                double count = m.sum().to_type(ScalarType.Float64).item<double>();
                importance = new ImportanceWeightStatistics(
                    Mean: count > 0 ? MaskedMean(w.Raw, m, tokens) : 1.0,
                    Max: count > 0 ? w.Raw.masked_select(generated).max().to_type(ScalarType.Float64).item<double>() : 1.0,
                    CappedFraction: MaskedMean(w.Capped, m, tokens));
            }
        }

        return new GrpoLossResult(loss.MoveToOuterDisposeScope(), perTokenLoss.MoveToOuterDisposeScope(),
            clipFraction, clipFractionLow, clipFractionHigh, meanKl, importance);
    }

    /// <summary>
    /// w = exp(prox - behav) per token, without gradient: exactly 1 where the two log-probs are equal and on padding
    /// (a padded position's behaviour log-prob is whatever the sampler left there, and an infinite weight times a zero
    /// mask would still be NaN); then the cap. Raw is before the cap (for the statistics), Capped marks the tokens the
    /// cap changed.
    /// </summary>
    private static (Tensor Raw, Tensor Applied, Tensor Capped) ImportanceWeights(Tensor proximal, Tensor behaviourLogp,
        Tensor mask, GrpoLossSettings settings)
    {
        var behaviour = behaviourLogp.to_type(proximal.dtype).detach();
        var one = ones_like(proximal);
        var same = (proximal == behaviour).logical_or(mask == 0);
        var raw = where(same, one, exp(proximal - behaviour));
        if (settings.MaxImportanceWeight is not { } cap)
        {
            return (raw, raw, zeros_like(raw, dtype: ScalarType.Bool));
        }

        var capped = raw > cap;
        var applied = settings.ImportanceWeightCap == ImportanceWeightCap.Truncate
            ? raw.clamp_max(cap)
            : where(capped, zeros_like(raw), raw);
        return (raw, applied, capped);
    }

    private static double MaskedMean(Tensor values, Tensor mask, Tensor tokens) =>
        ((values.to_type(mask.dtype) * mask).sum() / tokens).to_type(ScalarType.Float64).item<double>();

    private static void CheckShapes(Tensor logp, Tensor oldLogp, Tensor? behaviourLogp, Tensor refLogp, Tensor advantages,
        Tensor mask)
    {
        if (logp.dim() != 2)
        {
            throw new ArgumentException(
                $"logp must be [B, T] (batch, completion tokens) but has shape {Shape(logp)}.", nameof(logp));
        }

        if (!logp.is_floating_point())
        {
            throw new ArgumentException($"logp must be floating point but is {logp.dtype}.", nameof(logp));
        }

        var others = new List<(Tensor, string)> { (oldLogp, "oldLogp"), (refLogp, "refLogp"), (mask, "mask") };
        if (behaviourLogp is not null)
        {
            others.Add((behaviourLogp, "behaviourLogp"));
        }

        foreach (var (tensor, name) in others)
        {
            if (!tensor.shape.SequenceEqual(logp.shape))
            {
                throw new ArgumentException(
                    $"{name} has shape {Shape(tensor)} but must match logp, {Shape(logp)}.", name);
            }
        }

        if (advantages.dim() != 1 || advantages.shape[0] != logp.shape[0])
        {
            throw new ArgumentException(
                $"advantages has shape {Shape(advantages)} but must be [B] = [{logp.shape[0]}], one per completion.",
                nameof(advantages));
        }
    }

    private static string Shape(Tensor tensor) => $"[{string.Join(", ", tensor.shape)}]";
}
