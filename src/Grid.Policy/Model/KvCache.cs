using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Policy.Model;

/// <summary>
/// Keys and values of every layer for a batch of sequences being decoded ([rows, heads, slots, head dim] per layer),
/// plus which key slots are real (left padding, and the slots before a row that joined late, are not).
/// Storage is preallocated with room to spare in both rows and slots, and grows by doubling, so rows joining a
/// decoding batch (continuous batching) cost a copy of their own keys, not of the whole cache.
/// Owned by one thread; dispose it when the batch is done.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly int _maxCapacity;
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;
    private Tensor _isReal;
    private long[] _positionOffsets;

    /// <param name="heads">Key/value heads per layer (fewer than the query heads under grouped-query attention).</param>
    /// <param name="maxSequenceLength">The model's longest row; the cache starts at most this long and grows to twice it.</param>
    public KvCache(int layers, int heads, int headDimension, int maxSequenceLength, int batchSize, int capacity, Device device)
    {
        if (capacity > maxSequenceLength)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity,
                $"A KV cache cannot hold more than MaxSequenceLength {maxSequenceLength} positions.");
        }

        _maxCapacity = 2 * maxSequenceLength;
        BatchSize = batchSize;
        Capacity = capacity;
        _keys = new Tensor[layers];
        _values = new Tensor[layers];
        for (int layer = 0; layer < layers; layer++)
        {
            _keys[layer] = zeros([batchSize, heads, capacity, headDimension], device: device).DetachFromDisposeScope();
            _values[layer] = zeros([batchSize, heads, capacity, headDimension], device: device).DetachFromDisposeScope();
        }

        _isReal = ones([batchSize, 1, 1, capacity], dtype: ScalarType.Bool, device: device).DetachFromDisposeScope();
        _positionOffsets = new long[batchSize];
    }

    /// <summary>Rows (sequences) in the batch.</summary>
    public int BatchSize { get; private set; }

    /// <summary>Slots per row: the positions this cache can hold.</summary>
    public int Capacity { get; private set; }

    /// <summary>Positions written so far (image patches + text), the same for every row.</summary>
    public int Length { get; internal set; }

    /// <summary>True once some row has a masked key slot; decode steps then pass a key mask.</summary>
    public bool HasPadding { get; internal set; }

    private int RowCapacity => (int)_isReal.shape[0];

    private int SlotCapacity => (int)_isReal.shape[3];

    /// <summary>Keys of <paramref name="layer"/> for every row, slots [from, from + count): a view.</summary>
    internal Tensor Keys(int layer, int from, int count) => _keys[layer].narrow(0, 0, BatchSize).narrow(2, from, count);

    internal Tensor Values(int layer, int from, int count) => _values[layer].narrow(0, 0, BatchSize).narrow(2, from, count);

    /// <summary>[rows, 1, 1, count] bool view: false for key slots that hold padding.</summary>
    internal Tensor KeyIsReal(int count) => _isReal.narrow(0, 0, BatchSize).narrow(3, 0, count);

    /// <summary>
    /// What each row adds to its text positions while decoding: 0 for Grid's own model; a Qwen2-VL row's M-RoPE delta
    /// (its image takes fewer positions than tokens). Set once at prefill; follows the rows as they are kept and joined.
    /// </summary>
    internal long[] PositionOffsets
    {
        get => _positionOffsets;
        set => _positionOffsets = value.Length == BatchSize
            ? value
            : throw new ArgumentException($"{value.Length} position offsets for {BatchSize} rows.", nameof(value));
    }

    /// <summary>Keeps only the given rows (in that order), e.g. to drop sequences that have finished.</summary>
    public void KeepRows(ReadOnlySpan<long> rows)
    {
        using var scope = NewDisposeScope();
        var index = tensor(rows.ToArray(), device: _isReal.device);
        for (int layer = 0; layer < _keys.Length; layer++)
        {
            _keys[layer] = Replace(_keys[layer], _keys[layer].index_select(0, index));
            _values[layer] = Replace(_values[layer], _values[layer].index_select(0, index));
        }

        _isReal = Replace(_isReal, _isReal.index_select(0, index));
        var offsets = new long[rows.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            offsets[i] = _positionOffsets[rows[i]];
        }

        _positionOffsets = offsets;
        BatchSize = rows.Length;
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

        int rows = newcomers.BatchSize;
        EnsureRows(BatchSize + rows);
        using var scope = NewDisposeScope();
        for (int layer = 0; layer < _keys.Length; layer++)
        {
            _keys[layer].narrow(0, BatchSize, rows).narrow(2, offset, newcomers.Length)
                .copy_(newcomers.Keys(layer, 0, newcomers.Length));
            _values[layer].narrow(0, BatchSize, rows).narrow(2, offset, newcomers.Length)
                .copy_(newcomers.Values(layer, 0, newcomers.Length));
        }

        var isReal = _isReal.narrow(0, BatchSize, rows);
        isReal.fill_(true);
        isReal.narrow(3, 0, offset).fill_(false); // slots of earlier rows' positions: nothing of this row's
        isReal.narrow(3, offset, newcomers.Length).copy_(newcomers.KeyIsReal(newcomers.Length));
        _positionOffsets = [.. _positionOffsets, .. newcomers._positionOffsets];
        BatchSize += rows;
        HasPadding |= offset > 0 || newcomers.HasPadding;
    }

    /// <summary>
    /// Makes room for <paramref name="capacity"/> positions per row (slots are not positions: the model sets no limit
    /// on them, memory does). Grows by doubling, up to twice the model's MaxSequenceLength.
    /// </summary>
    internal void Grow(int capacity)
    {
        if (capacity > _maxCapacity)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity,
                $"A KV cache holds at most {_maxCapacity} slots per row (twice MaxSequenceLength).");
        }

        if (capacity <= SlotCapacity)
        {
            Capacity = Math.Max(Capacity, capacity);
            return;
        }

        int slots = Math.Min(_maxCapacity, Math.Max(capacity, 2 * SlotCapacity));
        Reallocate(RowCapacity, slots, SlotCapacity);
        Capacity = capacity;
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
        for (int layer = 0; layer < _keys.Length; layer++)
        {
            _keys[layer] = Replace(_keys[layer], _keys[layer].narrow(2, slots, SlotCapacity - slots).contiguous());
            _values[layer] = Replace(_values[layer], _values[layer].narrow(2, slots, SlotCapacity - slots).contiguous());
        }

        _isReal = Replace(_isReal, _isReal.narrow(3, slots, SlotCapacity - slots).contiguous());
        Capacity -= slots;
        Length -= slots;
    }

    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values).Append(_isReal))
        {
            t.Dispose();
        }
    }

    /// <summary>Room for <paramref name="rows"/> rows; doubles the row storage when it runs out.</summary>
    private void EnsureRows(int rows)
    {
        if (rows > RowCapacity)
        {
            Reallocate(Math.Max(rows, 2 * RowCapacity), SlotCapacity, SlotCapacity);
        }
    }

    /// <summary>New storage of [rowCapacity, slotCapacity] holding the used rows' first <paramref name="keepSlots"/> slots.</summary>
    private void Reallocate(int rowCapacity, int slotCapacity, int keepSlots)
    {
        using var scope = NewDisposeScope();
        var device = _isReal.device;
        for (int layer = 0; layer < _keys.Length; layer++)
        {
            _keys[layer] = Replace(_keys[layer], Copy(_keys[layer]));
            _values[layer] = Replace(_values[layer], Copy(_values[layer]));
        }

        var isReal = ones([rowCapacity, 1, 1, slotCapacity], dtype: ScalarType.Bool, device: device);
        isReal.narrow(0, 0, BatchSize).narrow(3, 0, keepSlots).copy_(_isReal.narrow(0, 0, BatchSize).narrow(3, 0, keepSlots));
        _isReal = Replace(_isReal, isReal);

        Tensor Copy(Tensor old)
        {
            var target = zeros([rowCapacity, old.shape[1], slotCapacity, old.shape[3]], dtype: old.dtype, device: device);
            target.narrow(0, 0, BatchSize).narrow(2, 0, keepSlots).copy_(old.narrow(0, 0, BatchSize).narrow(2, 0, keepSlots));
            return target;
        }
    }

    private static Tensor Replace(Tensor old, Tensor replacement)
    {
        old.Dispose();
        return replacement.DetachFromDisposeScope();
    }
}
