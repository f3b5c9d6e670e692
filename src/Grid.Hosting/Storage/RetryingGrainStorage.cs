using System.Net.Sockets;
using Azure;
using Grid.Hosting.Weights;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Storage;

namespace Grid.Hosting.Storage;

/// <summary>
/// Wraps a grain storage provider so that reads, writes and clears wait out a brief storage outage (Azurite or Azure
/// Storage unreachable for seconds) instead of failing the grain's turn: a grain whose state write throws has its
/// in-memory state ahead of storage and, in a timer callback, nobody to retry it. Transient errors are retried with
/// bounded backoff (<see cref="Retry"/>, about a minute); ETag conflicts and other errors pass through at once.
/// </summary>
public sealed class RetryingGrainStorage(string name, IGrainStorage inner, ILogger<RetryingGrainStorage> logger)
    : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>About 64 s of backoff (0.25, 0.5, 1, 2, then 4 s) on top of the storage client's own retries.</summary>
    public static WeightStoreRetryOptions Retry { get; } = new()
    {
        MaxAttempts = 20,
        InitialDelay = TimeSpan.FromMilliseconds(250),
        MaxDelay = TimeSpan.FromSeconds(4),
    };

    /// <summary>Replaces the keyed registration of grain storage <paramref name="name"/> by this wrapper around it.</summary>
    public static void Wrap(IServiceCollection services, string name)
    {
        var original = services.LastOrDefault(d => d.IsKeyedService && d.ServiceType == typeof(IGrainStorage)
            && Equals(d.ServiceKey, name) && d.KeyedImplementationFactory is not null)
            ?? throw new InvalidOperationException($"Grain storage '{name}' must be added before it can be wrapped.");
        services.Remove(original);
        services.AddKeyedSingleton<IGrainStorage>(name, (provider, key) => new RetryingGrainStorage(name,
            (IGrainStorage)original.KeyedImplementationFactory!(provider, key),
            provider.GetRequiredService<ILogger<RetryingGrainStorage>>()));
    }

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        RunAsync("Reading", stateName, grainId, () => inner.ReadStateAsync(stateName, grainId, grainState));

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        RunAsync("Writing", stateName, grainId, () => inner.WriteStateAsync(stateName, grainId, grainState));

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        RunAsync("Clearing", stateName, grainId, () => inner.ClearStateAsync(stateName, grainId, grainState));

    /// <summary>The wrapped provider's own lifecycle (an Azure provider creates its table or container there).</summary>
    public void Participate(ISiloLifecycle lifecycle) => (inner as ILifecycleParticipant<ISiloLifecycle>)?.Participate(lifecycle);

    private Task RunAsync(string verb, string stateName, GrainId grainId, Func<Task> operation) =>
        TransientRetry.RunAsync(Retry, $"{verb} state '{stateName}' of {grainId} in grain storage '{name}'", IsTransient,
            async (attempt, _) =>
            {
                if (attempt > 1)
                {
                    logger.LogWarning("{Verb} state {State} of {Grain} in {Storage}: attempt {Attempt} after a transient error",
                        verb, stateName, grainId, name, attempt);
                }

                await operation().ConfigureAwait(false);
                return true;
            },
            CancellationToken.None);

    /// <summary>Unreachable or overloaded storage, anywhere in the exception chain; never an ETag conflict.</summary>
    internal static bool IsTransient(Exception error) => error switch
    {
        InconsistentStateException => false,
        RequestFailedException failed when failed.Status is 0 or 408 or 429 or 500 or 502 or 503 or 504 => true,
        HttpRequestException or SocketException or TimeoutException or TaskCanceledException => true,
        IOException and not FileNotFoundException => true,
        AggregateException aggregate => aggregate.InnerExceptions.Any(IsTransient),
        _ => error.InnerException is { } inner && IsTransient(inner),
    };
}
