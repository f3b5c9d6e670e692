using Grid.Core.Settings;

namespace Grid.Learning.Objective;

/// <summary>The settings of the clipped GRPO objective (docs/algorithm.md section 3). Validate once, at the edge.</summary>
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

    /// <summary>Returns this, or throws <see cref="InvalidSettingException"/> naming the first bad setting.</summary>
    public GrpoLossSettings Validate()
    {
        if (!(EpsLow >= 0 && EpsLow < 1))
        {
            throw new InvalidSettingException("eps_low", EpsLow,
                "in [0, 1) (the ratio is clipped below at 1 - eps_low; the default is 0.2)");
        }

        if (!(EpsHigh >= 0 && double.IsFinite(EpsHigh)))
        {
            throw new InvalidSettingException("eps_high", EpsHigh,
                "a finite number >= 0 (the ratio is clipped above at 1 + eps_high; default 0.2, DAPO 0.28)");
        }

        if (!Enum.IsDefined(LossType))
        {
            throw new InvalidSettingException("loss_type", (int)LossType, InvalidSettingException.OneOf(SettingNames<LossType>.All));
        }

        if (MaxCompletionLength < 1 && LossType == LossType.DrGrpo)
        {
            throw new InvalidSettingException("max_completion_length", MaxCompletionLength,
                ">= 1 when loss_type = \"dr_grpo\" (it divides the summed loss)");
        }

        if (MaxCompletionLength < 0)
        {
            throw new InvalidSettingException("max_completion_length", MaxCompletionLength, ">= 0");
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
