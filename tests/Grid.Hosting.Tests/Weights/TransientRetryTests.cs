using System.Diagnostics;
using Grid.Hosting.Weights;

namespace Grid.Hosting.Tests.Weights;

/// <summary>The retry schedule every weight store and the grain storage share: attempts, backoff, what is retried.</summary>
public sealed class TransientRetryTests
{
    private static readonly WeightStoreRetryOptions Fast = new()
    {
        MaxAttempts = 4,
        InitialDelay = TimeSpan.FromMilliseconds(60),
        MaxDelay = TimeSpan.FromMilliseconds(120),
    };

    private static bool Transient(Exception error) => error is IOException;

    [Fact]
    public async Task Transient_errors_are_retried_with_doubling_capped_waits_until_an_attempt_succeeds()
    {
        var attempts = new List<(int Number, TimeSpan At)>();
        var clock = Stopwatch.StartNew();
        int result = await TransientRetry.RunAsync(Fast, "Op", Transient, (number, _) =>
        {
            attempts.Add((number, clock.Elapsed));
            return number < 4 ? throw new IOException($"down {number}") : Task.FromResult(42);
        }, TestContext.Current.CancellationToken);

        Assert.Equal(42, result);
        Assert.Equal([1, 2, 3, 4], attempts.Select(a => a.Number));
        var waits = attempts.Zip(attempts.Skip(1), (a, b) => b.At - a.At).ToArray();
        // 60 ms, then 120 ms, then 120 ms (capped); a busy machine only waits longer.
        Assert.True(waits[0] >= TimeSpan.FromMilliseconds(55), $"first wait {waits[0]}");
        Assert.True(waits[1] >= TimeSpan.FromMilliseconds(115), $"second wait {waits[1]}");
        Assert.True(waits[2] >= TimeSpan.FromMilliseconds(115), $"third wait {waits[2]}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task A_transient_error_on_the_last_attempt_becomes_unavailable_with_the_count_and_the_last_error(int maxAttempts)
    {
        int calls = 0;
        var error = await Assert.ThrowsAsync<WeightStoreUnavailableException>(() => TransientRetry.RunAsync<int>(
            Fast with { MaxAttempts = maxAttempts, InitialDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero }, "Writing x",
            Transient, (number, _) => throw new IOException($"down {++calls}"), TestContext.Current.CancellationToken));

        Assert.Equal(maxAttempts, calls);
        Assert.StartsWith($"Writing x failed {maxAttempts} times over ", error.Message);
        Assert.Contains($"last: IOException: down {maxAttempts} Check that the storage is running", error.Message);
        Assert.Equal($"down {maxAttempts}", error.InnerException!.Message);
    }

    [Fact]
    public async Task Other_errors_pass_through_at_once()
    {
        int calls = 0;
        await Assert.ThrowsAsync<InvalidDataException>(() => TransientRetry.RunAsync<int>(Fast, "Op", e => e is not InvalidDataException,
            (_, _) => { calls++; throw new InvalidDataException("bad"); }, TestContext.Current.CancellationToken));
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task Cancelling_during_a_wait_stops_the_retries_without_calling_the_storage_unavailable()
    {
        using var stop = new CancellationTokenSource();
        int calls = 0;
        var slow = Fast with { InitialDelay = TimeSpan.FromSeconds(30), MaxDelay = TimeSpan.FromSeconds(30) };
        var run = TransientRetry.RunAsync<int>(slow, "Op", Transient, (_, _) =>
        {
            calls++;
            throw new IOException("down");
        }, stop.Token);
        await stop.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task A_transient_error_after_cancellation_passes_through_unwrapped()
    {
        using var stop = new CancellationTokenSource();
        await stop.CancelAsync();
        int calls = 0;
        await Assert.ThrowsAsync<IOException>(() => TransientRetry.RunAsync<int>(Fast, "Op", Transient,
            (_, _) => { calls++; throw new IOException("down"); }, stop.Token));
        Assert.Equal(1, calls);
    }
}
