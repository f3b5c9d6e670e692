using Grid.Core;

namespace Grid.Contracts.Learning;

/// <summary>
/// The learner's answer to a scored group: taken (or ignored as a duplicate or late), or refused as sampled beyond the
/// run's staleness bound (rollouts.max_staleness), in which case the group samples its prompt again with
/// <see cref="ResampleWith"/>, the learner's newest weights.
/// </summary>
[GenerateSerializer]
[Alias("grid.SubmitReceipt")]
[Immutable]
public sealed record SubmitReceipt([property: Id(0)] WeightReference? ResampleWith)
{
    /// <summary>The learner has the group (or did not need it).</summary>
    public static SubmitReceipt Taken { get; } = new((WeightReference?)null);
}
