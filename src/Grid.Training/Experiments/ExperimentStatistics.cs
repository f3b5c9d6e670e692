namespace Grid.Training.Experiments;

/// <summary>
/// What a study can resolve. A cell's standard error combines the spread over seeds (sd / sqrt(n)) and the noise of
/// measuring an accuracy on a finite set of test prompts (sqrt(p (1 - p) / m), binomial); two cells' difference has
/// the root of the summed squares as its standard error, and counts as resolved when it exceeds about two of them.
/// </summary>
public static class ExperimentStatistics
{
    /// <summary>How many standard errors of a difference make it resolved.</summary>
    public const double ResolvingStandardErrors = 2.0;

    /// <summary>sqrt(sd^2 / n + p (1 - p) / m) for a cell of accuracies p measured on <paramref name="evalPrompts"/> prompts.</summary>
    public static double StandardError(SampleSummary cell, int evalPrompts)
    {
        ArgumentNullException.ThrowIfNull(cell);
        ArgumentOutOfRangeException.ThrowIfLessThan(evalPrompts, 1);
        double p = Math.Clamp(cell.Mean, 0, 1);
        return Math.Sqrt((cell.Sd * cell.Sd / cell.N) + (p * (1 - p) / evalPrompts));
    }

    /// <summary>The standard error of the difference of two independent estimates.</summary>
    public static double DifferenceStandardError(double standardErrorA, double standardErrorB) =>
        Math.Sqrt((standardErrorA * standardErrorA) + (standardErrorB * standardErrorB));

    /// <summary>True when |difference| exceeds <see cref="ResolvingStandardErrors"/> standard errors of it.</summary>
    public static bool Resolves(double difference, double differenceStandardError) =>
        Math.Abs(difference) > ResolvingStandardErrors * differenceStandardError;

    /// <summary>
    /// The relative change over SFT in percent, (arm - sft) / sft * 100, as the paper reports it. When SFT scored 0 the
    /// change is 0 if the arm scored 0 too and undefined (null) otherwise; never NaN or infinite.
    /// </summary>
    public static double? RelativeChangePercent(double arm, double sft)
    {
        if (!double.IsFinite(arm) || !double.IsFinite(sft))
        {
            return null;
        }

        if (sft == 0)
        {
            return arm == 0 ? 0.0 : null;
        }

        return (arm - sft) / sft * 100.0;
    }
}
