using System.Diagnostics;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace Grid.Cli.Runs;

/// <summary>
/// Grain calls of a client that must ride through a lost gateway: when the silo a client talks through dies, calls
/// fail until the client has moved to another gateway (Orleans clients do that on their own once the cluster has
/// declared the silo dead). Such calls are repeated, with a line on the console, for up to <see cref="RideThrough"/>.
/// </summary>
internal static class ClusterCalls
{
    /// <summary>How long a follower keeps trying through a lost gateway before it gives up.</summary>
    public static readonly TimeSpan RideThrough = TimeSpan.FromMinutes(5);

    /// <summary>Runs <paramref name="call"/> (blocking), again after transient cluster errors.</summary>
    public static T Wait<T>(Func<Task<T>> call, string what, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        bool told = false;
        while (true)
        {
            cancellation.ThrowIfCancellationRequested();
            try
            {
                var result = call().GetAwaiter().GetResult();
                if (told)
                {
                    Console.WriteLine($"reconnected to the cluster after {clock.Elapsed.TotalSeconds:F0} s");
                }

                return result;
            }
            catch (Exception error) when (IsTransient(error) && clock.Elapsed < RideThrough)
            {
                if (!told)
                {
                    Console.WriteLine($"lost the cluster while {what} ({error.GetType().Name}); reconnecting through "
                        + $"another silo for up to {RideThrough.TotalMinutes:F0} min");
                    told = true;
                }

                cancellation.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
            }
        }
    }

    /// <summary>Errors of a lost or dying gateway, not of the call itself.</summary>
    public static bool IsTransient(Exception error) => error is OrleansMessageRejectionException or SiloUnavailableException
        or ConnectionFailedException or GatewayTooBusyException or TimeoutException
        || (error is AggregateException { InnerException: { } inner } && IsTransient(inner));
}
