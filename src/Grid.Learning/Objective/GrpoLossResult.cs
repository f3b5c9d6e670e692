using static TorchSharp.torch;

namespace Grid.Learning.Objective;

/// <summary>
/// The objective of one batch and the statistics reported with it. Owns <see cref="Loss"/> and
/// <see cref="PerTokenLoss"/>: dispose it after <c>Loss.backward()</c>.
/// </summary>
public sealed class GrpoLossResult : IDisposable
{
    internal GrpoLossResult(Tensor loss, Tensor perTokenLoss, double clipFraction, double clipFractionLow,
        double clipFractionHigh, double meanKl, ImportanceWeightStatistics importanceWeights)
    {
        Loss = loss;
        PerTokenLoss = perTokenLoss;
        ClipFraction = clipFraction;
        ClipFractionLow = clipFractionLow;
        ClipFractionHigh = clipFractionHigh;
        MeanKl = meanKl;
        ImportanceWeights = importanceWeights;
    }

    /// <summary>The aggregated loss, a scalar differentiable with respect to the policy log-probs.</summary>
    public Tensor Loss { get; }

    /// <summary>l_{i,t} = w * surrogate + beta * kl, [B, T], before masking (w = 1 without behaviour log-probs).</summary>
    public Tensor PerTokenLoss { get; }

    /// <summary>Fraction of generated tokens where clipping removed the gradient (low or high).</summary>
    public double ClipFraction { get; }

    /// <summary>Fraction of generated tokens with rho &lt; 1 - eps_low and A &lt; 0.</summary>
    public double ClipFractionLow { get; }

    /// <summary>Fraction of generated tokens with rho &gt; 1 + eps_high and A &gt; 0.</summary>
    public double ClipFractionHigh { get; }

    /// <summary>Mean k3 estimate of KL(pi_theta || pi_ref) over generated tokens.</summary>
    public double MeanKl { get; }

    /// <summary>
    /// The decoupled objective's weights pi_prox / pi_behav over generated tokens (docs/algorithm.md section 9);
    /// <see cref="ImportanceWeightStatistics.Synchronous"/> when no behaviour log-probs were given.
    /// </summary>
    public ImportanceWeightStatistics ImportanceWeights { get; }

    public void Dispose()
    {
        Loss.Dispose();
        PerTokenLoss.Dispose();
    }
}
