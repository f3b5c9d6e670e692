using Grid.Core.Settings;

namespace Grid.Learning.Objective;

/// <summary>The settings of the clipped GRPO objective (docs/algorithm.md section 3), validated once, at the edge.</summary>
public sealed record GrpoLossSettings
{
    /// <summary>Config <c>eps_low</c>: the ratio is clipped below at 1 - eps_low.</summary>
    public double EpsLow { get; init; } = 0.2;

    /// <summary>Config <c>eps_high</c>: the ratio is clipped above at 1 + eps_high (DAPO: 0.28).</summary>
    public double EpsHigh { get; init; } = 0.2;

    /// <summary>Config <c>loss_type</c>.</summary>
    public LossType LossType { get; init; } = LossType.Grpo;

    /// <summary>Config <c>max_completion_length</c>, the dr_grpo denominator (<see cref="LossType.DrGrpo"/>).</summary>
    public int MaxCompletionLength { get; init; }

    /// <summary>
    /// Config <c>max_importance_weight</c>: the cap C on the decoupled objective's importance weight pi_prox / pi_behav
    /// (docs/algorithm.md section 9); null, the default, caps nothing. Must be above 1, as AReaL requires of its
    /// <c>behav_imp_weight_cap</c> (AReaL's examples use 5), so a token sampled by the policy being updated (weight 1)
    /// is never capped. Used only when behaviour log-probs are given (<see cref="GrpoLoss.ComputeDecoupled"/>).
    /// </summary>
    public double? MaxImportanceWeight { get; init; }

    /// <summary>Config <c>importance_weight_cap</c>: what a weight above <see cref="MaxImportanceWeight"/> does.</summary>
    public ImportanceWeightCap ImportanceWeightCap { get; init; } = ImportanceWeightCap.Drop;

    /// <summary>
    /// Returns this, or throws <see cref="ArgumentOutOfRangeException"/>: a guard against a programmer's error only.
    /// The run settings these come from were refused, if wrong, where they were loaded (Grid.Training's
    /// RunSettingsValidator), with the message a user reads; this does not say it a second time.
    /// </summary>
    public GrpoLossSettings Validate()
    {
        if (!(EpsLow >= 0 && EpsLow < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(EpsLow), EpsLow, "eps_low must be in [0, 1).");
        }

        if (!(EpsHigh >= 0 && double.IsFinite(EpsHigh)))
        {
            throw new ArgumentOutOfRangeException(nameof(EpsHigh), EpsHigh, "eps_high must be a finite number >= 0.");
        }

        if (!Enum.IsDefined(LossType))
        {
            throw new ArgumentOutOfRangeException(nameof(LossType), LossType, "Not a defined loss type.");
        }

        if (MaxCompletionLength < (LossType == LossType.DrGrpo ? 1 : 0))
        {
            throw new ArgumentOutOfRangeException(nameof(MaxCompletionLength), MaxCompletionLength,
                "max_completion_length must be >= 0, and >= 1 for dr_grpo (it divides the summed loss).");
        }

        if (MaxImportanceWeight is { } cap && !(cap > 1 && double.IsFinite(cap)))
        {
            throw new InvalidSettingException("max_importance_weight", cap,
                "a finite number > 1, or unset for no cap (a weight of 1, the synchronous case, must never be capped; "
                + "AReaL uses 5)");
        }

        if (!Enum.IsDefined(ImportanceWeightCap))
        {
            throw new InvalidSettingException("importance_weight_cap", (int)ImportanceWeightCap,
                InvalidSettingException.OneOf(SettingNames<ImportanceWeightCap>.All));
        }

        return this;
    }
}
