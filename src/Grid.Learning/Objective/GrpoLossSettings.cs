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

        return this;
    }
}
