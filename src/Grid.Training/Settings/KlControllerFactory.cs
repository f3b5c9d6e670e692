using Grid.Learning.KlControl;
using Grid.Learning.Settings;

namespace Grid.Training.Settings;

/// <summary>Builds the run's KL controller from its <c>kl</c> settings, with t = the run's GRPO steps.</summary>
public static class KlControllerFactory
{
    public static KlControllerSettings ToControllerSettings(KlSettings kl, long totalSteps) => new()
    {
        Kind = kl.Kind,
        Beta = kl.Beta,
        BetaMin = kl.BetaMin,
        BetaMax = kl.BetaMax,
        WarmupFraction = kl.WarmupFraction,
        TotalSteps = totalSteps,
        TargetKl = kl.TargetKl,
        Horizon = (int)Math.Clamp(kl.Horizon, int.MinValue, int.MaxValue),
    };

    /// <summary>A fresh controller; invalid settings are refused under their run-settings names (kl.beta_min, ...).</summary>
    public static IKlController FromSettings(KlSettings kl, long totalSteps)
    {
        try
        {
            return ToControllerSettings(kl, totalSteps).Create();
        }
        catch (InvalidSettingException e)
        {
            string setting = e.Setting switch
            {
                "kl_controller" => "kl.kind",
                "total_steps" => "steps",
                _ => "kl." + e.Setting,
            };
            throw new InvalidSettingException(setting, e.Value, e.Allowed);
        }
    }
}
