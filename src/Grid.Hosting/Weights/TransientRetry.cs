using System.Diagnostics;

namespace Grid.Hosting.Weights;

/// <summary>Runs a storage operation, retrying transient failures with bounded exponential backoff.</summary>
internal static class TransientRetry
{
    public static async Task<T> RunAsync<T>(
        WeightStoreRetryOptions retry,
        string operation,
        Func<Exception, bool> isTransient,
        Func<int, CancellationToken, Task<T>> attempt,
        CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var delay = retry.InitialDelay;
        for (int number = 1; ; number++)
        {
            try
            {
                return await attempt(number, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception error) when (!cancellationToken.IsCancellationRequested && isTransient(error))
            {
                if (number >= retry.MaxAttempts)
                {
                    throw new WeightStoreUnavailableException(
                        $"{operation} failed {number} times over {clock.Elapsed.TotalSeconds:F1} s with transient "
                        + $"errors; last: {error.GetType().Name}: {error.Message} Check that the storage is running "
                        + "and reachable (for Azurite: is the process up on the ports in the connection string?), "
                        + "then retry.",
                        error);
                }

                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, retry.MaxDelay.Ticks));
            }
        }
    }

    /// <summary>
    /// <see cref="RunAsync{T}"/> for an operation that reads <paramref name="content"/> from its current position: every
    /// retry rewinds it there first, and a stream that cannot be rewound is refused at the first retry.
    /// </summary>
    public static Task<T> RunWritingAsync<T>(
        WeightStoreRetryOptions retry,
        string operation,
        Func<Exception, bool> isTransient,
        Stream content,
        Func<CancellationToken, Task<T>> write,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        long start = content.CanSeek ? content.Position : 0;
        return RunAsync(retry, operation, isTransient, (attempt, ct) =>
        {
            if (attempt > 1)
            {
                content.Position = content.CanSeek ? start : throw new InvalidOperationException(
                    $"{operation} was interrupted by a transient error and its stream cannot be rewound to retry; "
                    + "write from a seekable stream (a file or memory stream).");
            }

            return write(ct);
        }, cancellationToken);
    }
}
