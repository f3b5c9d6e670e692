namespace Grid.Learning.KlControl;

/// <summary>GRPO-D (docs/algorithm.md section 4): beta depends on the step only (<see cref="DynamicKlSchedule"/>).</summary>
public sealed class DynamicKlController : IKlController
{
    private readonly long _totalSteps;
    private readonly double _warmupFraction;
    private readonly double _betaMin;
    private readonly double _betaMax;
    private long _lastObservedStep;

    public DynamicKlController(long totalSteps, double warmupFraction, double betaMin, double betaMax,
        long lastObservedStep = -1)
    {
        DynamicKlSchedule.Validate(totalSteps, warmupFraction, betaMin, betaMax);
        _totalSteps = totalSteps;
        _warmupFraction = warmupFraction;
        _betaMin = betaMin;
        _betaMax = betaMax;
        _lastObservedStep = lastObservedStep;
    }

    public string Kind => KlControllers.KindName(Grid.Core.Settings.KlKind.Dynamic);

    public KlControllerState State => new(Kind, BetaAt(Math.Max(_lastObservedStep + 1, 0)), _lastObservedStep);

    public double BetaAt(long step) => DynamicKlSchedule.Beta(step, _totalSteps, _warmupFraction, _betaMin, _betaMax);

    public void Observe(long step, double observedKl, int samples)
    {
        KlControllers.CheckObservation(step, observedKl, samples);
        _lastObservedStep = Math.Max(_lastObservedStep, step);
    }
}
