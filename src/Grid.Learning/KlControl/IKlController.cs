namespace Grid.Learning.KlControl;

/// <summary>
/// Owns the KL weight beta for the whole cluster (docs/algorithm.md section 5): every learner reads the same beta for
/// step s, and the value used is recorded with the step.
/// </summary>
public interface IKlController
{
    /// <summary>"fixed", "dynamic" or "adaptive", as in config files.</summary>
    string Kind { get; }

    /// <summary>The beta to use for training step <paramref name="step"/> (0-based).</summary>
    double BetaAt(long step);

    /// <summary>
    /// Reports the mean KL measured at <paramref name="step"/> over <paramref name="samples"/> completions. Only the
    /// adaptive controller changes beta; the others just remember the step.
    /// </summary>
    void Observe(long step, double observedKl, int samples);

    /// <summary>What must be persisted to resume the controller where it stopped.</summary>
    KlControllerState State { get; }
}
