using System.Collections.Concurrent;
using System.Diagnostics;
using Polly;
using Polly.Retry;

namespace Grid.Hosting.Weights;

/// <summary>
/// Runs a storage operation, retrying transient failures with bounded exponential backoff: a Polly retry pipeline of
/// <see cref="WeightStoreRetryOptions"/> (no jitter: the first retry waits <see cref="WeightStoreRetryOptions.InitialDelay"/>,
/// each next one twice as long, up to <see cref="WeightStoreRetryOptions.MaxDelay"/>). A transient error on the last
/// attempt becomes a <see cref="WeightStoreUnavailableException"/>; other errors and cancellation pass through.
/// </summary>
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
        int number = 0;
        if (cancellationToken.IsCancellationRequested)
        {
            // Polly would refuse to start; the operation itself decides what a cancelled call does, and nothing retries.
            return await attempt(++number, cancellationToken).ConfigureAwait(false);
        }

        var pipeline = Pipelines.GetOrAdd((retry, isTransient), static key => Pipeline(key.Retry, key.IsTransient));
        try
        {
            return await pipeline.ExecuteAsync(
                async ct => await attempt(++number, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (!cancellationToken.IsCancellationRequested && isTransient(error))
        {
            // The pipeline gives a transient error back only when the attempts are spent.
            throw new WeightStoreUnavailableException(
                $"{operation} failed {number} times over {clock.Elapsed.TotalSeconds:F1} s with transient "
                + $"errors; last: {error.GetType().Name}: {error.Message} Check that the storage is running "
                + "and reachable (for Azurite: is the process up on the ports in the connection string?), "
                + "then retry.",
                error);
        }
    }

    /// <summary>
    /// One pipeline per retry policy and error rule (a handful per process), built once: building one validates its
    /// options by reflection, too much to repeat on every grain state write. The caller's token reaches the rule
    /// through the pipeline's context.
    /// </summary>
    private static readonly ConcurrentDictionary<(WeightStoreRetryOptions Retry, Func<Exception, bool> IsTransient), ResiliencePipeline>
        Pipelines = new();

    /// <summary>Retries a transient error while attempts are left and the caller has not cancelled.</summary>
    private static ResiliencePipeline Pipeline(WeightStoreRetryOptions retry, Func<Exception, bool> isTransient)
    {
        int attempts = retry.MaxAttempts;
        return new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
        {
            // Polly counts retries and needs at least one; the predicate below keeps to the attempt budget.
            MaxRetryAttempts = Math.Max(1, attempts - 1),
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } error
                && args.AttemptNumber + 1 < attempts
                && !args.Context.CancellationToken.IsCancellationRequested
                && isTransient(error)),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = false,
            Delay = retry.InitialDelay,
            MaxDelay = retry.MaxDelay,
        }).Build();
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
