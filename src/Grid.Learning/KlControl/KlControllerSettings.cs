using Grid.Learning.Settings;

namespace Grid.Learning.KlControl;

/// <summary>
/// Which KL controller owns beta and its parameters (docs/algorithm.md sections 4 and 5). Defaults are the paper's visual
/// counting run (beta_min 0.04, beta_max 0.1, w/t = 0.3) and TRL's adaptive defaults (target 6, horizon 10000);
/// <see cref="TotalSteps"/> has no sensible default and must be set for the dynamic schedule.
/// </summary>
public sealed record KlControllerSettings
{
    public const string Fixed = "fixed";
    public const string Dynamic = "dynamic";
    public const string Adaptive = "adaptive";

    public static readonly IReadOnlyList<string> Kinds = [Fixed, Dynamic, Adaptive];

    /// <summary>Config <c>kl_controller</c>: "fixed", "dynamic" (GRPO-D) or "adaptive".</summary>
    public string Kind { get; init; } = Dynamic;

    /// <summary>Config <c>beta</c>: the fixed controller's constant, the adaptive one's start.</summary>
    public double Beta { get; init; } = 0.04;

    /// <summary>Config <c>beta_min</c> of the dynamic schedule.</summary>
    public double BetaMin { get; init; } = 0.04;

    /// <summary>Config <c>beta_max</c> of the dynamic schedule.</summary>
    public double BetaMax { get; init; } = 0.1;

    /// <summary>Config <c>warmup_fraction</c>: w / t, the exploration share of the dynamic schedule.</summary>
    public double WarmupFraction { get; init; } = 0.3;

    /// <summary>Config <c>total_steps</c>: t, the training steps of the dynamic schedule.</summary>
    public long TotalSteps { get; init; }

    /// <summary>Config <c>target_kl</c> of the adaptive controller.</summary>
    public double TargetKl { get; init; } = 6.0;

    /// <summary>Config <c>horizon</c> of the adaptive controller, in samples.</summary>
    public int Horizon { get; init; } = 10000;

    /// <summary>Returns this, or throws <see cref="InvalidSettingException"/> naming the first bad setting.</summary>
    public KlControllerSettings Validate()
    {
        if (!Kinds.Contains(Kind))
        {
            throw new InvalidSettingException("kl_controller", Kind, InvalidSettingException.OneOf(Kinds));
        }

        ValidateBeta("beta", Beta);
        ValidateBeta("beta_min", BetaMin);
        ValidateBeta("beta_max", BetaMax);
        switch (Kind)
        {
            case Dynamic:
                DynamicKlSchedule.Validate(TotalSteps, WarmupFraction, BetaMin, BetaMax);
                break;
            case Adaptive:
                ValidateAdaptive(Beta, TargetKl, Horizon);
                break;
        }

        return this;
    }

    /// <summary>A fresh controller of <see cref="Kind"/>, starting before step 0.</summary>
    public IKlController Create() => Validate().Build(beta: Beta, lastObservedStep: -1);

    /// <summary>The controller as it was when <paramref name="state"/> was taken.</summary>
    /// <remarks>Only the adaptive controller takes beta from the state; the others derive it.</remarks>
    public IKlController Restore(KlControllerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        Validate();
        if (state.Kind != Kind)
        {
            throw new ArgumentException(
                $"The saved KL controller state is of kind \"{state.Kind}\" but kl_controller = \"{Kind}\"; "
                + "resume with the settings the run started with.", nameof(state));
        }

        if (state.LastObservedStep < -1)
        {
            throw new ArgumentException(
                $"The saved KL controller state has last observed step {state.LastObservedStep}; it must be >= -1.",
                nameof(state));
        }

        return Build(beta: state.CurrentBeta, lastObservedStep: state.LastObservedStep);
    }

    private IKlController Build(double beta, long lastObservedStep) => Kind switch
    {
        Fixed => new FixedKlController(Beta, lastObservedStep),
        Dynamic => new DynamicKlController(TotalSteps, WarmupFraction, BetaMin, BetaMax, lastObservedStep),
        Adaptive => new AdaptiveKlController(beta, TargetKl, Horizon, lastObservedStep),
        _ => throw new InvalidSettingException("kl_controller", Kind, InvalidSettingException.OneOf(Kinds)),
    };

    internal static void ValidateBeta(string setting, double beta)
    {
        if (!(beta >= 0 && double.IsFinite(beta)))
        {
            throw new InvalidSettingException(setting, beta, "a finite number >= 0");
        }
    }

    internal static void ValidateAdaptive(double beta, double targetKl, int horizon)
    {
        if (!(beta > 0 && double.IsFinite(beta)))
        {
            throw new InvalidSettingException("beta", beta,
                "a finite number > 0 for the adaptive controller (it scales beta, so 0 would stay 0)");
        }

        if (!(targetKl > 0 && double.IsFinite(targetKl)))
        {
            throw new InvalidSettingException("target_kl", targetKl, "a finite number > 0 (TRL's default is 6)");
        }

        if (horizon < 1)
        {
            throw new InvalidSettingException("horizon", horizon, ">= 1 samples (the default is 10000)");
        }
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
