namespace Grid.Learning.KlControl;

/// <summary>beta(s) = beta_0 (docs/algorithm.md section 5; the paper's fixed-beta GRPO baseline).</summary>
public sealed class FixedKlController : IKlController
{
    private readonly double _beta;
    private long _lastObservedStep;

    public FixedKlController(double beta, long lastObservedStep = -1)
    {
        KlControllers.ValidateBeta(nameof(beta), beta);
        _beta = beta;
        _lastObservedStep = lastObservedStep;
    }

    public string Kind => KlControllers.KindName(Grid.Core.Settings.KlKind.Fixed);

    public KlControllerState State => new(Kind, _beta, _lastObservedStep);

    public double BetaAt(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        return _beta;
    }

    public void Observe(long step, double observedKl, int samples)
    {
        KlControllers.CheckObservation(step, observedKl, samples);
        _lastObservedStep = Math.Max(_lastObservedStep, step);
    }
}
