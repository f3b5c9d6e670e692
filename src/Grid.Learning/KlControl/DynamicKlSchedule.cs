using Grid.Core.Settings;

namespace Grid.Learning.KlControl;

/// <summary>
/// GRPO-D's KL weight (docs/algorithm.md section 4, the paper's Eq. 3): "exploration early, exploitation late".
/// beta starts at beta_mid = (beta_min + beta_max) / 2, falls linearly to beta_min at step w = round(w_frac * t),
/// then rises linearly to beta_max at step t, and holds beta_max after t.
/// </summary>
public static class DynamicKlSchedule
{
    public static double Beta(long step, long totalSteps, double warmupFraction, double betaMin, double betaMax)
    {
        Validate(totalSteps, warmupFraction, betaMin, betaMax);
        ArgumentOutOfRangeException.ThrowIfNegative(step);

        long w = ExplorationSteps(totalSteps, warmupFraction);
        double betaMid = (betaMin + betaMax) / 2;
        if (step > totalSteps)
        {
            return betaMax;
        }

        if (step <= w)
        {
            // w = 0 (a tiny run) has no exploration phase: the rise starts from beta_min at once.
            return w == 0 ? betaMin : betaMid - ((betaMid - betaMin) * step / w);
        }

        return betaMin + ((betaMax - betaMin) * (step - w) / (totalSteps - w));
    }

    /// <summary>w = round(w_frac * t), rounding halves to even like Python's round().</summary>
    public static long ExplorationSteps(long totalSteps, double warmupFraction) =>
        (long)Math.Round(warmupFraction * totalSteps, MidpointRounding.ToEven);

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for the first argument the schedule cannot use: a guard
    /// against a programmer's error only; the run's kl settings are refused, naming them for the user, by
    /// <see cref="KlSettings.Validate"/>.</summary>
    public static void Validate(long totalSteps, double warmupFraction, double betaMin, double betaMax)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(totalSteps, 1);
        if (!(warmupFraction > 0 && warmupFraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(warmupFraction), warmupFraction, "Must be in the open interval (0, 1).");
        }

        KlControllers.ValidateBeta(nameof(betaMin), betaMin);
        KlControllers.ValidateBeta(nameof(betaMax), betaMax);
        if (betaMin > betaMax)
        {
            throw new ArgumentOutOfRangeException(nameof(betaMin), betaMin, $"Must be <= betaMax ({betaMax}).");
        }
    }
}
