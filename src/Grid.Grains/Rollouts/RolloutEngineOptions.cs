namespace Grid.Grains.Rollouts;

/// <summary>How a silo's rollout engine batches generation requests.</summary>
public sealed record RolloutEngineOptions
{
    /// <summary>Most completions generated in one batched call.</summary>
    public int MaxBatchSize { get; init; } = 256;

    /// <summary>After a request arrives, wait this long for more to join the batch (requests of one step arrive together).</summary>
    public TimeSpan QuietPeriod { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Never hold the first request of a batch longer than this waiting for company.</summary>
    public TimeSpan MaxLinger { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Continuous batching: requests that arrive while a batch decodes join it before the next decode step (same run,
    /// policy version and settings, room permitting). False makes them wait until the batch drains (the behaviour
    /// before continuous batching; <c>grid bench --suite rollout-engine</c> compares the two).
    /// </summary>
    public bool JoinMidDecode { get; init; } = true;

    /// <summary>
    /// What completions are sampled from. Always <see cref="RolloutPolicy.Model"/> for training;
    /// <see cref="RolloutPolicy.FixedAnswer"/> is a benchmarking tool (<c>grid bench --suite grid</c>) and must then be
    /// set on every silo of the cluster.
    /// </summary>
    public RolloutPolicy Policy { get; init; } = RolloutPolicy.Model;

    public RolloutEngineOptions Validate()
    {
        if (MaxBatchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBatchSize), MaxBatchSize, "A batch holds at least 1 completion.");
        }

        if (QuietPeriod < TimeSpan.Zero || MaxLinger < QuietPeriod)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxLinger), MaxLinger,
                $"Need 0 <= QuietPeriod ({QuietPeriod}) <= MaxLinger ({MaxLinger}).");
        }

        if (!Enum.IsDefined(Policy))
        {
            throw new ArgumentOutOfRangeException(nameof(Policy), Policy, "Use RolloutPolicy.Model (or FixedAnswer for benchmarks).");
        }

        return this;
    }
}
