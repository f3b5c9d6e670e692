using Grid.Core;
using Grid.Hosting.Weights;

namespace Grid.Grains.Tests.Infrastructure;

/// <summary>
/// A real weight store whose one chosen write never completes, as if the process had died in the middle of it: the
/// first write of the optimizer state of <c>version</c> of <c>runId</c> signals <see cref="Reached"/> and then hangs
/// (until <see cref="Dispose"/>, which fails it; by then its silo is dead). Later writes of it (a learner set up again
/// doing the step once more) go through. Everything else passes through unchanged. Tests use
/// it to stop a cluster at an exact point: after the learner published weights v, before their checkpoint exists.
/// </summary>
public sealed class CrashingWeightStore(IWeightStore inner, string runId, long version) : IWeightStore, IDisposable
{
    private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _never = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _fired;

    /// <summary>Completes when the learner starts the write that never ends.</summary>
    public Task Reached => _reached.Task;

    public Task<WeightReference> PublishAsync(string run, long v, Stream content, CancellationToken cancellationToken = default) =>
        inner.PublishAsync(run, v, content, cancellationToken);

    public Task<byte[]> ReadAsync(WeightReference reference, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(reference, cancellationToken);

    public Task<WeightReference?> GetLatestAsync(string run, CancellationToken cancellationToken = default) =>
        inner.GetLatestAsync(run, cancellationToken);

    public async Task<WeightReference> WriteObjectAsync(string run, long v, string kind, Stream content,
        CancellationToken cancellationToken = default)
    {
        if (run == runId && v == version && kind == LearnerCheckpointStore.OptimizerKind
            && Interlocked.Exchange(ref _fired, 1) == 0)
        {
            _reached.TrySetResult();
            await _never.Task;
        }

        return await inner.WriteObjectAsync(run, v, kind, content, cancellationToken);
    }

    public Task WriteRecordAsync(string run, string name, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default) =>
        inner.WriteRecordAsync(run, name, content, cancellationToken);

    public Task<byte[]?> ReadRecordAsync(string run, string name, CancellationToken cancellationToken = default) =>
        inner.ReadRecordAsync(run, name, cancellationToken);

    public Task DeleteObjectAsync(WeightReference reference, CancellationToken cancellationToken = default) =>
        inner.DeleteObjectAsync(reference, cancellationToken);

    public Task DeleteRecordAsync(string run, string name, CancellationToken cancellationToken = default) =>
        inner.DeleteRecordAsync(run, name, cancellationToken);

    public void Dispose() => _never.TrySetException(new ObjectDisposedException("the silo that made this write is dead"));
}
