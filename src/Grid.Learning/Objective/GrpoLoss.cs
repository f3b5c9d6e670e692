using Grid.Core.Settings;
using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Learning.Objective;

/// <summary>
/// The clipped GRPO objective with the k3 KL penalty (docs/algorithm.md section 3, the paper's Eq. 4 and 5), aggregated
/// as in TRL's GRPOTrainer so the numbers compare with it.
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
        double beta, GrpoLossSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        if (!(beta >= 0 && double.IsFinite(beta)))
        {
            throw new InvalidSettingException("beta", beta, "a finite number >= 0");
        }

        CheckShapes(logp, oldLogp, refLogp, advantages, mask);

        using var scope = NewDisposeScope();
        double epsLow = settings.EpsLow, epsHigh = settings.EpsHigh;
        var a = advantages.to_type(logp.dtype).detach().unsqueeze(1);
        var old = oldLogp.to_type(logp.dtype).detach();
        var reference = refLogp.to_type(logp.dtype).detach();
        var m = mask.to_type(logp.dtype).detach();

        var ratio = exp(logp - old);                                                  // rho = pi_theta / pi_old
        var clippedRatio = ratio.clamp(1 - epsLow, 1 + epsHigh);
        var surrogate = -minimum(ratio * a, clippedRatio * a);                        // Eq. 4, clipped surrogate
        var logRefRatio = reference - logp;
        var kl = exp(logRefRatio) - logRefRatio - 1;                                  // Eq. 5, k3 estimator, >= 0
        var perTokenLoss = surrogate + (beta * kl);                                   // l_{i,t}

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
        using (no_grad())
        {
            var clippedLow = (ratio < 1 - epsLow).logical_and(a < 0);
            var clippedHigh = (ratio > 1 + epsHigh).logical_and(a > 0);
            clipFractionLow = MaskedMean(clippedLow, m, tokens);
            clipFractionHigh = MaskedMean(clippedHigh, m, tokens);
            clipFraction = MaskedMean(clippedLow.logical_or(clippedHigh), m, tokens);
            meanKl = MaskedMean(kl, m, tokens);
        }

        return new GrpoLossResult(loss.MoveToOuterDisposeScope(), perTokenLoss.MoveToOuterDisposeScope(),
            clipFraction, clipFractionLow, clipFractionHigh, meanKl);
    }

    private static double MaskedMean(Tensor values, Tensor mask, Tensor tokens) =>
        ((values.to_type(mask.dtype) * mask).sum() / tokens).to_type(ScalarType.Float64).item<double>();

    private static void CheckShapes(Tensor logp, Tensor oldLogp, Tensor refLogp, Tensor advantages, Tensor mask)
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

        foreach (var (tensor, name) in new[] { (oldLogp, "oldLogp"), (refLogp, "refLogp"), (mask, "mask") })
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
