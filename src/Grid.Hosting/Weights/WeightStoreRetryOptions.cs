namespace Grid.Hosting.Weights;

/// <summary>
/// Bounded exponential backoff for transient weight-store errors. The defaults ride out about 12 s of storage
/// downtime (0.25 + 0.5 + 1 + 2 + 4 + 4 s between 7 attempts) before giving up.
/// </summary>
public sealed record WeightStoreRetryOptions
{
    /// <summary>Attempts in total, the first included (1 = no retry).</summary>
    public int MaxAttempts { get; init; } = 7;

    /// <summary>Wait before the second attempt; doubles after each failure.</summary>
    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Longest wait between two attempts.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>The defaults described above.</summary>
    public static WeightStoreRetryOptions Default { get; } = new();

    internal WeightStoreRetryOptions Validate()
    {
        if (MaxAttempts < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, "Use 1 attempt or more.");
        }

        if (InitialDelay < TimeSpan.Zero || MaxDelay < InitialDelay)
        {
            throw new ArgumentOutOfRangeException(
                nameof(MaxDelay), $"InitialDelay {InitialDelay} and MaxDelay {MaxDelay}: need 0 <= InitialDelay <= MaxDelay.");
        }

        return this;
    }
}
