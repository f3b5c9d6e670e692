namespace Grid.Learning.Advantages;

/// <summary>
/// Group-relative advantages (docs/algorithm.md Eq. 2): <c>A_i = (r_i - mean(r)) / (std(r) + 1e-4)</c>, std with Bessel's
/// correction. Rewards arrive grouped: completions <c>[g*G, (g+1)*G)</c> answer prompt g.
/// </summary>
public static class GroupAdvantages
{
    /// <summary>Added to the std so a group with nearly equal rewards does not blow up (Eq. 2).</summary>
    public const double StdEpsilon = 1e-4;

    /// <summary>One advantage per completion, in the order of <paramref name="rewards"/>.</summary>
    /// <remarks>A group whose rewards are all equal carries no signal: every advantage is exactly 0.</remarks>
    public static double[] Compute(ReadOnlySpan<double> rewards, int groupSize, AdvantageScale scale)
    {
        AdvantageSettings.ValidateGroupSize(groupSize);
        if (rewards.Length % groupSize != 0)
        {
            throw new ArgumentException(
                $"{rewards.Length} rewards do not split into groups of group_size = {groupSize}; "
                + "the count must be a multiple of the group size.", nameof(rewards));
        }

        for (int i = 0; i < rewards.Length; i++)
        {
            if (!double.IsFinite(rewards[i]))
            {
                throw new ArgumentException($"Reward {i} is {rewards[i]}; rewards must be finite.", nameof(rewards));
            }
        }

        double batchStd = scale == AdvantageScale.Batch ? BesselStd(rewards) : 0;
        var advantages = new double[rewards.Length];
        for (int start = 0; start < rewards.Length; start += groupSize)
        {
            var group = rewards.Slice(start, groupSize);
            if (AllEqual(group))
            {
                continue; // no signal; skip the rounding noise of (r - mean) that would otherwise be amplified
            }

            double mean = Mean(group);
            double scaleBy = scale switch
            {
                AdvantageScale.Group => BesselStd(group) + StdEpsilon,
                AdvantageScale.Batch => batchStd + StdEpsilon,
                AdvantageScale.None => 1.0,
                _ => throw new ArgumentOutOfRangeException(nameof(scale), scale, "Unknown advantage scale."),
            };
            for (int i = 0; i < groupSize; i++)
            {
                advantages[start + i] = (group[i] - mean) / scaleBy;
            }
        }

        return advantages;
    }

    private static double Mean(ReadOnlySpan<double> values)
    {
        double sum = 0;
        foreach (double value in values)
        {
            sum += value;
        }

        return sum / values.Length;
    }

    private static double BesselStd(ReadOnlySpan<double> values)
    {
        double mean = Mean(values), squares = 0;
        foreach (double value in values)
        {
            squares += (value - mean) * (value - mean);
        }

        return Math.Sqrt(squares / (values.Length - 1));
    }

    private static bool AllEqual(ReadOnlySpan<double> values)
    {
        foreach (double value in values)
        {
            if (value != values[0])
            {
                return false;
            }
        }

        return true;
    }
}
