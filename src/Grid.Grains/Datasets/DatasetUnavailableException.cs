namespace Grid.Grains.Datasets;

/// <summary>
/// A silo cannot use a run's published dataset: the archive is missing from the cluster's store, does not hash to the
/// sha256 the run names, cannot be unpacked, or a record or image in it cannot be read. The prompt group's attempt fails
/// with this reason (and is retried as any failed attempt is); it is never scored as reward 0.
/// </summary>
public sealed class DatasetUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
