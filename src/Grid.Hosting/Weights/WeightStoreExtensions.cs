using Grid.Core;

namespace Grid.Hosting.Weights;

/// <summary>Conveniences over <see cref="IWeightStore"/>.</summary>
public static class WeightStoreExtensions
{
    /// <summary>Publishes bytes already in memory (retries can re-send them).</summary>
    public static async Task<WeightReference> PublishAsync(
        this IWeightStore store, string runId, long version, ReadOnlyMemory<byte> content,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        using var stream = content.Length == 0
            ? new MemoryStream([], writable: false)
            : new MemoryStream(content.ToArray(), writable: false);
        return await store.PublishAsync(runId, version, stream, cancellationToken).ConfigureAwait(false);
    }
}
