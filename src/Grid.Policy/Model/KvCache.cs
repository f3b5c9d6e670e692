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

    public int Capacity { get; }

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
