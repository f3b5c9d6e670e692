namespace Grid.Learning.KlControl;

/// <summary>
/// Ziegler et al. (2019), as in TRL and verl (docs/algorithm.md section 5): steers the observed KL towards a target with
/// <c>e = clip(KL / KL_target - 1, -0.2, 0.2)</c>, <c>beta &lt;- beta * (1 + e * n / horizon)</c>.
/// </summary>
/// <remarks>
/// An observation for a step at or before the last observed one is ignored, so a retried report after a lost reply
/// does not move beta twice.
/// </remarks>
public sealed class AdaptiveKlController : IKlController
{
    /// <summary>The proportional error is clipped to +-0.2 so one noisy batch cannot swing beta far.</summary>
    public const double MaxProportionalError = 0.2;

    private readonly double _targetKl;
    private readonly int _horizon;
    private double _beta;
    private long _lastObservedStep;

    public AdaptiveKlController(double beta, double targetKl, int horizon, long lastObservedStep = -1)
    {
        KlControllers.ValidateAdaptive(beta, targetKl, horizon);
        _beta = beta;
        _targetKl = targetKl;
        _horizon = horizon;
        _lastObservedStep = lastObservedStep;
    }

    public string Kind => KlControllers.KindName(Grid.Core.Settings.KlKind.Adaptive);

    public KlControllerState State => new(Kind, _beta, _lastObservedStep);

    public double BetaAt(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        return _beta;
    }

    public void Observe(long step, double observedKl, int samples)
    {
        KlControllers.CheckObservation(step, observedKl, samples);
        if (step <= _lastObservedStep)
        {
            return;
        }

        double error = Math.Clamp((observedKl / _targetKl) - 1, -MaxProportionalError, MaxProportionalError);
        _beta *= 1 + (error * samples / _horizon);
        _lastObservedStep = step;
    }
}
