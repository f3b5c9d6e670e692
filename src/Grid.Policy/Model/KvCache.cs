using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Policy.Model;

/// <summary>
/// Keys and values of every layer for a batch of sequences being decoded, preallocated to a fixed capacity
/// ([batch, heads, capacity, head dim] per layer), plus which key slots are real (left padding is not).
/// Owned by one thread; dispose it when the batch is done.
/// </summary>
public sealed class KvCache : IDisposable
{
    internal KvCache(PolicyConfig config, int batchSize, int capacity, Device device)
    {
        if (capacity > config.MaxSequenceLength)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity,
                $"A KV cache cannot hold more than MaxSequenceLength {config.MaxSequenceLength} positions.");
        }

        Capacity = capacity;
        Keys = new Tensor[config.Layers];
        Values = new Tensor[config.Layers];
        for (int layer = 0; layer < config.Layers; layer++)
        {
            Keys[layer] = zeros([batchSize, config.Heads, capacity, config.HeadDimension], device: device).DetachFromDisposeScope();
            Values[layer] = zeros([batchSize, config.Heads, capacity, config.HeadDimension], device: device).DetachFromDisposeScope();
        }

        KeyIsReal = ones([batchSize, 1, 1, capacity], dtype: ScalarType.Bool, device: device).DetachFromDisposeScope();
    }

    public int BatchSize => (int)Keys[0].shape[0];

    public int Capacity { get; private set; }

    /// <summary>Positions written so far (image patches + text), the same for every row.</summary>
    public int Length { get; internal set; }

    /// <summary>True once some row has a padded (masked) key slot; decode steps then pass a key mask.</summary>
    public bool HasPadding { get; internal set; }

    internal Tensor[] Keys { get; }

    internal Tensor[] Values { get; }

    /// <summary>[batch, 1, 1, capacity] bool: false for key slots that hold left padding.</summary>
    internal Tensor KeyIsReal { get; private set; }

    /// <summary>Keeps only the given rows (in that order), e.g. to drop sequences that have finished.</summary>
    public void KeepRows(ReadOnlySpan<long> rows)
    {
        using var index = tensor(rows.ToArray(), device: KeyIsReal.device);
        for (int layer = 0; layer < Keys.Length; layer++)
        {
            Keys[layer] = Replace(Keys[layer], Keys[layer].index_select(0, index));
            Values[layer] = Replace(Values[layer], Values[layer].index_select(0, index));
        }

        KeyIsReal = Replace(KeyIsReal, KeyIsReal.index_select(0, index));
    }

    /// <summary>
    /// Appends the rows of <paramref name="newcomers"/> (a cache just prefilled for them alone) so that their last
    /// position lands on this cache's last position: the slots before them are masked out like left padding. Keys
    /// carry their positions from the embeddings, not from their slots, so each row still computes what it would
    /// alone. This is how rows join a batch that is already decoding (continuous batching).
    /// </summary>
    internal void AppendAligned(KvCache newcomers)
    {
        int offset = Length - newcomers.Length;
        if (offset < 0 || Length == 0)
        {
            throw new InvalidOperationException(
                $"Rows holding {newcomers.Length} positions cannot join a cache holding {Length}: they must fit before its end.");
        }

        using var scope = NewDisposeScope();
        long rows = newcomers.BatchSize;
        var device = KeyIsReal.device;
        for (int layer = 0; layer < Keys.Length; layer++)
        {
            Keys[layer] = Replace(Keys[layer], cat([Keys[layer], Aligned(newcomers.Keys[layer])], 0));
            Values[layer] = Replace(Values[layer], cat([Values[layer], Aligned(newcomers.Values[layer])], 0));
        }

        var isReal = ones([rows, 1, 1, Capacity], dtype: ScalarType.Bool, device: device);
        isReal.narrow(3, 0, offset).fill_(false);
        isReal.narrow(3, offset, newcomers.Length).copy_(newcomers.KeyIsReal.narrow(3, 0, newcomers.Length));
        KeyIsReal = Replace(KeyIsReal, cat([KeyIsReal, isReal], 0));
        HasPadding |= offset > 0 || newcomers.HasPadding;

        Tensor Aligned(Tensor source)
        {
            var target = zeros([rows, source.shape[1], Capacity, source.shape[3]], dtype: source.dtype, device: device);
            target.narrow(2, offset, newcomers.Length).copy_(source.narrow(2, 0, newcomers.Length));
            return target;
        }
    }

    /// <summary>Makes room for <paramref name="capacity"/> positions per row (slots are not positions: no model limit).</summary>
    internal void Grow(int capacity)
    {
        if (capacity <= Capacity)
        {
            return;
        }

        using var scope = NewDisposeScope();
        for (int layer = 0; layer < Keys.Length; layer++)
        {
            Keys[layer] = Replace(Keys[layer], Extend(Keys[layer]));
            Values[layer] = Replace(Values[layer], Extend(Values[layer]));
        }

        var more = ones([BatchSize, 1, 1, capacity - Capacity], dtype: ScalarType.Bool, device: KeyIsReal.device);
        KeyIsReal = Replace(KeyIsReal, cat([KeyIsReal, more], 3));
        Capacity = capacity;

        Tensor Extend(Tensor t) => cat([t, zeros([t.shape[0], t.shape[1], capacity - Capacity, t.shape[3]], dtype: t.dtype, device: t.device)], 2);
    }

    /// <summary>Drops the first <paramref name="slots"/> positions of every row (slots no remaining row uses).</summary>
    internal void TrimFront(int slots)
    {
        if (slots <= 0)
        {
            return;
        }

        if (slots > Length)
        {
            throw new ArgumentOutOfRangeException(nameof(slots), slots, $"The cache holds only {Length} positions.");
        }

        using var scope = NewDisposeScope();
        for (int layer = 0; layer < Keys.Length; layer++)
        {
            Keys[layer] = Replace(Keys[layer], Keys[layer].narrow(2, slots, Capacity - slots).contiguous());
            Values[layer] = Replace(Values[layer], Values[layer].narrow(2, slots, Capacity - slots).contiguous());
        }

        KeyIsReal = Replace(KeyIsReal, KeyIsReal.narrow(3, slots, Capacity - slots).contiguous());
        Capacity -= slots;
        Length -= slots;
    }

    public void Dispose()
    {
        foreach (var t in Keys.Concat(Values).Append(KeyIsReal))
        {
            t.Dispose();
        }
    }

    private static Tensor Replace(Tensor old, Tensor replacement)
    {
        old.Dispose();
        return replacement.DetachFromDisposeScope();
    }
}
