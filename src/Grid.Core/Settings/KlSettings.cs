using System.Text.Json.Serialization;

namespace Grid.Core.Settings;

/// <summary>
/// The KL controller (docs/algorithm.md sections 4-5): the run's <c>kl</c> section and the only KL settings type. The
/// controllers (Grid.Learning's KlControllers) are built from it and the run's steps, t in Eq. 3.
/// </summary>
public sealed record KlSettings
{
    /// <summary>Betas above this are refused: far above any useful penalty, low enough to catch a typo.</summary>
    public const double MaxBeta = 100;

    /// <summary>"dynamic" (GRPO-D, Eq. 3), "fixed" or "adaptive".</summary>
    public KlKind Kind { get; init; } = KlKind.Dynamic;

    /// <summary>The fixed beta, or the adaptive controller's initial beta (the paper's best fixed beta for geometry).</summary>
    public double Beta { get; init; } = 0.01;

    /// <summary>The paper's geometry setting; its counting setting is 0.04 to 0.1.</summary>
    public double BetaMin { get; init; } = 0.0;

    public double BetaMax { get; init; } = 0.02;

    /// <summary>w / t in Eq. 3 (the paper uses 0.3).</summary>
    public double WarmupFraction { get; init; } = 0.3;

    /// <summary>The adaptive controller's target KL.</summary>
    public double TargetKl { get; init; } = 0.05;

    /// <summary>The adaptive controller's horizon, in samples.</summary>
    public double Horizon { get; init; } = 10000;

    /// <summary>The horizon as the adaptive controller takes it: a whole number of samples; not a setting of its own.</summary>
    [JsonIgnore]
    public int HorizonSamples => (int)Math.Clamp(Horizon, int.MinValue, int.MaxValue);

    /// <summary>
    /// Returns this, or throws <see cref="InvalidSettingException"/> naming the first bad setting as the run spells it
    /// (<c>kl.beta_min</c>, ...; <c>steps</c> for <paramref name="totalSteps"/>, t of the dynamic schedule).
    /// </summary>
    public KlSettings Validate(long totalSteps)
    {
        // Upper bounds first; an infinity is left to the finite check below, whose message is the precise one.
        Require("kl.beta", Beta, !(Beta > MaxBeta) || double.IsInfinity(Beta), $"a number <= {MaxBeta}");
        Require("kl.beta_min", BetaMin, !(BetaMin > MaxBeta) || double.IsInfinity(BetaMin), $"a number <= {MaxBeta}");
        Require("kl.beta_max", BetaMax, !(BetaMax > MaxBeta) || double.IsInfinity(BetaMax), $"a number <= {MaxBeta}");
        Require("kl.target_kl", TargetKl, !(TargetKl > 1000), "a number <= 1000");
        Require("kl.horizon", Horizon, !(Horizon > 1e9), "a number of samples <= 1000000000");
        Require("kl.kind", Kind, Enum.IsDefined(Kind), InvalidSettingException.OneOf(SettingNames<KlKind>.All));
        NonNegative("kl.beta", Beta);
        NonNegative("kl.beta_min", BetaMin);
        NonNegative("kl.beta_max", BetaMax);
        switch (Kind)
        {
            case KlKind.Dynamic:
                Require("steps", totalSteps, totalSteps >= 1, ">= 1 (the number of training steps)");
                Require("kl.warmup_fraction", WarmupFraction, WarmupFraction is > 0 and < 1,
                    "in the open interval (0, 1) (the paper uses 0.3)");
                Require("kl.beta_min", BetaMin, BetaMin <= BetaMax, $"<= beta_max ({InvalidSettingException.Format(BetaMax)})");
                break;
            case KlKind.Adaptive:
                Require("kl.beta", Beta, Beta > 0 && double.IsFinite(Beta),
                    "a finite number > 0 for the adaptive controller (it scales beta, so 0 would stay 0)");
                Require("kl.target_kl", TargetKl, TargetKl > 0 && double.IsFinite(TargetKl),
                    "a finite number > 0 (TRL's default is 6)");
                Require("kl.horizon", HorizonSamples, HorizonSamples >= 1, ">= 1 samples (the default is 10000)");
                break;
        }

        return this;
    }

    private static void NonNegative(string setting, double beta) =>
        Require(setting, beta, beta >= 0 && double.IsFinite(beta), "a finite number >= 0");

    private static void Require(string setting, object value, bool ok, string allowed)
    {
        if (!ok)
        {
            throw new InvalidSettingException(setting, value, allowed);
        }
    }
}
