using Grid.Core.Settings;

namespace Grid.Learning.KlControl;

/// <summary>
/// Builds the KL controller that owns beta (docs/algorithm.md sections 4 and 5) from the run's <see cref="KlSettings"/>
/// and its total steps (t, which the dynamic schedule needs). The settings are checked by
/// <see cref="KlSettings.Validate"/>, so a refusal names them as the run spells them (<c>kl.beta_min</c>, <c>steps</c>).
/// </summary>
public static class KlControllers
{
    /// <summary>A fresh controller of <see cref="KlSettings.Kind"/>, starting before step 0.</summary>
    public static IKlController Create(KlSettings kl, long totalSteps)
    {
        ArgumentNullException.ThrowIfNull(kl);
        return Build(kl.Validate(totalSteps), totalSteps, beta: kl.Beta, lastObservedStep: -1);
    }

    /// <summary>The controller as it was when <paramref name="state"/> was taken.</summary>
    /// <remarks>Only the adaptive controller takes beta from the state; the others derive it.</remarks>
    public static IKlController Restore(KlSettings kl, long totalSteps, KlControllerState state)
    {
        ArgumentNullException.ThrowIfNull(kl);
        ArgumentNullException.ThrowIfNull(state);
        kl.Validate(totalSteps);
        string kind = SettingNames<KlKind>.Name(kl.Kind);
        if (state.Kind != kind)
        {
            throw new ArgumentException(
                $"The saved KL controller state is of kind \"{state.Kind}\" but kl.kind = \"{kind}\"; "
                + "resume with the settings the run started with.", nameof(state));
        }

        if (state.LastObservedStep < -1)
        {
            throw new ArgumentException(
                $"The saved KL controller state has last observed step {state.LastObservedStep}; it must be >= -1.",
                nameof(state));
        }

        return Build(kl, totalSteps, beta: state.CurrentBeta, lastObservedStep: state.LastObservedStep);
    }

    /// <summary>The state's spelling of a kind: "fixed", "dynamic" or "adaptive".</summary>
    public static string KindName(KlKind kind) => SettingNames<KlKind>.Name(kind);

    private static IKlController Build(KlSettings kl, long totalSteps, double beta, long lastObservedStep) => kl.Kind switch
    {
        KlKind.Fixed => new FixedKlController(kl.Beta, lastObservedStep),
        KlKind.Dynamic => new DynamicKlController(totalSteps, kl.WarmupFraction, kl.BetaMin, kl.BetaMax, lastObservedStep),
        KlKind.Adaptive => new AdaptiveKlController(beta, kl.TargetKl, kl.HorizonSamples, lastObservedStep),
        _ => throw new ArgumentOutOfRangeException(nameof(kl), kl.Kind, "Not a defined KL controller kind."), // Validate refused it
    };

    /// <summary>The argument checks of a controller built directly (tests, reference vectors): guards against a
    /// programmer's error only; a run's kl settings are refused, naming them for the user, by
    /// <see cref="KlSettings.Validate"/>.</summary>
    internal static void ValidateBeta(string parameter, double beta)
    {
        if (!(beta >= 0 && double.IsFinite(beta)))
        {
            throw new ArgumentOutOfRangeException(parameter, beta, "Must be a finite number >= 0.");
        }
    }

    internal static void ValidateAdaptive(double beta, double targetKl, int horizon)
    {
        if (!(beta > 0 && double.IsFinite(beta)))
        {
            throw new ArgumentOutOfRangeException(nameof(beta), beta, "Must be a finite number > 0 (the adaptive controller scales it).");
        }

        if (!(targetKl > 0 && double.IsFinite(targetKl)))
        {
            throw new ArgumentOutOfRangeException(nameof(targetKl), targetKl, "Must be a finite number > 0.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(horizon, 1);
    }

    internal static void CheckObservation(long step, double observedKl, int samples)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfNegative(samples);
        if (!double.IsFinite(observedKl))
        {
            throw new ArgumentOutOfRangeException(nameof(observedKl), observedKl,
                "The observed KL must be finite; a NaN or infinite KL would poison beta.");
        }
    }
}
