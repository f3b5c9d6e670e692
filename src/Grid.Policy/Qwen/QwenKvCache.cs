using static TorchSharp.torch;

namespace Grid.Policy.Qwen;

/// <summary>
/// Keys and values of every decoder layer for a batch being generated ([rows, kv heads, slots, head dim] per layer),
/// which key slots are real (left padding is not), and each row's M-RoPE delta: after the prompt a token in cache
/// slot s sits at position s + delta on all three axes, as transformers' generate places it.
/// Owned by one thread; dispose it when the batch is done.
/// </summary>
public sealed class QwenKvCache : IDisposable
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;
    private readonly Tensor _isReal;

    internal QwenKvCache(QwenVLConfig config, int batchSize, int capacity, Device device)
    {
        if (batchSize <= 0 || capacity <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), $"A cache needs rows and slots; got {batchSize} rows of {capacity}.");
        }

        BatchSize = batchSize;
        Capacity = capacity;
        _keys = new Tensor[config.NumHiddenLayers];
        _values = new Tensor[config.NumHiddenLayers];
        for (int layer = 0; layer < config.NumHiddenLayers; layer++)
        {
            _keys[layer] = zeros([batchSize, config.NumKeyValueHeads, capacity, config.HeadDim], device: device).DetachFromDisposeScope();
            _values[layer] = zeros([batchSize, config.NumKeyValueHeads, capacity, config.HeadDim], device: device).DetachFromDisposeScope();
        }

        _isReal = ones([batchSize, 1, 1, capacity], dtype: ScalarType.Bool, device: device).DetachFromDisposeScope();
        RopeDeltas = new long[batchSize];
    }

    public int BatchSize { get; }

    public int Capacity { get; }

    /// <summary>Slots written so far, the same for every row (the padded prompt length plus the decoded tokens).</summary>
    public int Length { get; internal set; }

    /// <summary>True once some row has a masked key slot; decode steps then pass a key mask.</summary>
    public bool HasPadding { get; internal set; }

    /// <summary>Each row's rope delta (max prompt position + 1 - padded prompt length), set by the prefill.</summary>
    public long[] RopeDeltas { get; }

    internal Tensor Keys(int layer, int from, int count) => _keys[layer].narrow(2, from, count);

    internal Tensor Values(int layer, int from, int count) => _values[layer].narrow(2, from, count);

    /// <summary>[rows, 1, 1, count] bool view: false for key slots that hold padding.</summary>
    internal Tensor KeyIsReal(int count) => _isReal.narrow(3, 0, count);

    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values).Append(_isReal))
        {
            t.Dispose();
        }
    }
}
