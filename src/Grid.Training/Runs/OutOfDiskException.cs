namespace Grid.Training.Runs;

/// <summary>
/// A file system too full for what a run must write next: names the path, the bytes it needs and how many are free, and
/// what to do. The run's newest complete checkpoint is untouched; the run resumes once there is room.
/// </summary>
public sealed class OutOfDiskException(string path, long bytesNeeded, long bytesFree, string? resume = null, Exception? inner = null)
    : IOException(Describe(path, bytesNeeded, bytesFree, resume), inner)
{
    public string Path { get; } = path;

    public long BytesNeeded { get; } = bytesNeeded;

    public long BytesFree { get; } = bytesFree;

    private static string Describe(string path, long needed, long free, string? resume) =>
        $"no space left for {path}: it needs about {Bytes(needed)} and its file system has {Bytes(free)} free. Free space "
        + "there (or move the run folder to a larger disk)" + (resume is null ? ", then run the command again." : $", then resume with: {resume}");

    private static string Bytes(long bytes) => bytes >= 1 << 20
        ? $"{bytes / (double)(1 << 20):F1} MiB ({bytes:N0} bytes)"
        : $"{bytes:N0} bytes";
}
