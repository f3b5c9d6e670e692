using static TorchSharp.torch;

namespace Grid.Learning.Objective;

/// <summary>
/// The objective of one batch and the statistics reported with it. Owns <see cref="Loss"/> and
/// <see cref="PerTokenLoss"/>: dispose it after <c>Loss.backward()</c>.
/// </summary>
public sealed class GrpoLossResult : IDisposable
{
    internal GrpoLossResult(Tensor loss, Tensor perTokenLoss, double clipFraction, double clipFractionLow,
        double clipFractionHigh, double meanKl)
    {
        Loss = loss;
        PerTokenLoss = perTokenLoss;
        ClipFraction = clipFraction;
        ClipFractionLow = clipFractionLow;
        ClipFractionHigh = clipFractionHigh;
        MeanKl = meanKl;
    }

    /// <summary>The aggregated loss, a scalar differentiable with respect to the policy log-probs.</summary>
    public Tensor Loss { get; }

    /// <summary>l_{i,t} = surrogate + beta * kl, [B, T], before masking.</summary>
    public Tensor PerTokenLoss { get; }

    /// <summary>Fraction of generated tokens where clipping removed the gradient (low or high).</summary>
    public double ClipFraction { get; }

    /// <summary>Fraction of generated tokens with rho &lt; 1 - eps_low and A &lt; 0.</summary>
    public double ClipFractionLow { get; }

    /// <summary>Fraction of generated tokens with rho &gt; 1 + eps_high and A &gt; 0.</summary>
    public double ClipFractionHigh { get; }

    /// <summary>Mean k3 estimate of KL(pi_theta || pi_ref) over generated tokens.</summary>
    public double MeanKl { get; }

    public void Dispose()
    {
        Loss.Dispose();
        PerTokenLoss.Dispose();
    }
}
