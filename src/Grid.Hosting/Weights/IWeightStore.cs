using Grid.Core;

namespace Grid.Hosting.Weights;

/// <summary>
/// Stores model weights and checkpoints as immutable objects, one per publish, plus a "latest" pointer per run.
/// A publish writes the new object under a unique name first and only then moves the pointer, so readers never
/// see a half-written object; every read checks the sha256 recorded in the reference.
/// Transient storage errors are retried with bounded backoff, then surfaced as
/// <see cref="WeightStoreUnavailableException"/>.
/// </summary>
public interface IWeightStore
{
    /// <summary>
    /// Writes <paramref name="content"/> (read to its end) as version <paramref name="version"/> of run
    /// <paramref name="runId"/> and moves the run's latest pointer to it unless a newer version is already there.
    /// A seekable stream is rewound and re-sent if a transient error interrupts the upload; a non-seekable one is not.
    /// </summary>
    Task<WeightReference> PublishAsync(string runId, long version, Stream content, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads the bytes a reference points to and checks their sha256; a mismatch throws
    /// <see cref="WeightIntegrityException"/>.
    /// </summary>
    Task<byte[]> ReadAsync(WeightReference reference, CancellationToken cancellationToken = default);

    /// <summary>The newest published version of a run, or null when nothing was published for it yet.</summary>
    Task<WeightReference?> GetLatestAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes <paramref name="content"/> as a new immutable object of the run beside its weights (say the optimizer
    /// state of version <paramref name="version"/>; <paramref name="kind"/> names what it is) without moving the
    /// latest pointer. Read it back, hash-checked, with <see cref="ReadAsync"/>.
    /// </summary>
    Task<WeightReference> WriteObjectAsync(
        string runId, long version, string kind, Stream content, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes or replaces a small named record of the run (a checkpoint manifest, say) in one atomic step: a reader
    /// sees the previous record or the new one, never a part. Names: lowercase letters, digits, '.', '-'.
    /// </summary>
    Task WriteRecordAsync(string runId, string name, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default);

    /// <summary>The bytes of a record, or null when the run has no record of that name.</summary>
    Task<byte[]?> ReadRecordAsync(string runId, string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes an object written with <see cref="WriteObjectAsync"/> (say optimizer state no checkpoint needs any
    /// more); deleting one that is gone already is fine. Delete the record naming it first.
    /// </summary>
    Task DeleteObjectAsync(WeightReference reference, CancellationToken cancellationToken = default);

    /// <summary>Deletes a record; deleting one that is gone already is fine.</summary>
    Task DeleteRecordAsync(string runId, string name, CancellationToken cancellationToken = default);
}
