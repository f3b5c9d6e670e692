namespace Grid.Hosting.Tests.Weights;

/// <summary>
/// Serves <c>content</c> but stops at <c>gateAt</c> bytes until <see cref="Open"/> is called, so a test can look at
/// the store while a publish is half-way through writing.
/// </summary>
public sealed class GatedStream(byte[] content, int gateAt) : Stream
{
    private readonly TaskCompletionSource _reachedGate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _position;

    /// <summary>Completes when the reader has consumed every byte before the gate.</summary>
    public Task ReachedGate => _reachedGate.Task;

    public void Open() => _open.TrySetResult();

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_position == gateAt)
        {
            _reachedGate.TrySetResult();
            await _open.Task.WaitAsync(cancellationToken);
        }

        int limit = _position < gateAt ? gateAt : content.Length;
        int count = Math.Min(buffer.Length, limit - _position);
        content.AsSpan(_position, count).CopyTo(buffer.Span);
        _position += count;
        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) =>
        ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
