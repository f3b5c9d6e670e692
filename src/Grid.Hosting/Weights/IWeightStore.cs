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
}
