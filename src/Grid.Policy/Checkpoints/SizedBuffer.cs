namespace Grid.Policy.Checkpoints;

/// <summary>
/// Serializing into a buffer of the size the same thing had last time. A growing <see cref="MemoryStream"/> doubles
/// its buffer and <see cref="MemoryStream.ToArray"/> copies it once more: for the learner's per-step weights and
/// optimizer state (6-7 MB each, on the large object heap) that was three to four arrays per step instead of one, and
/// each large-object budget spent is a full blocking GC.
/// </summary>
public sealed class SizedBuffer
{
    private int _lastLength;

    /// <summary>Writes with <paramref name="write"/> and returns exactly the bytes written.</summary>
    public byte[] Write(Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        using var stream = new MemoryStream(_lastLength);
        write(stream);
        _lastLength = (int)stream.Length;
        // The same length as last time (the usual case): the buffer is exactly the bytes, hand it over uncopied.
        return stream.Length == stream.Capacity ? stream.GetBuffer() : stream.ToArray();
    }
}
