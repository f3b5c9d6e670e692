namespace Grid.Training.Runs;

/// <summary>Free space on the file system of a path, checked before a run writes something large.</summary>
public static class DiskSpace
{
    /// <summary>Linux's ENOSPC and EDQUOT, which .NET reports as an IOException whose HResult is the errno.</summary>
    private static readonly int[] FullErrors = [28, 122];

    /// <summary>Bytes free to this user on the file system holding <paramref name="path"/> (or its nearest existing parent).</summary>
    public static long Free(string path)
    {
        string? existing = System.IO.Path.GetFullPath(path);
        while (existing is not null && !Directory.Exists(existing))
        {
            existing = System.IO.Path.GetDirectoryName(existing);
        }

        return existing is null ? long.MaxValue : new DriveInfo(existing).AvailableFreeSpace;
    }

    /// <summary>
    /// Throws <see cref="OutOfDiskException"/> unless <paramref name="path"/>'s file system has
    /// <paramref name="bytesNeeded"/> free: cheaper than finding out halfway through the write.
    /// </summary>
    public static void Require(string path, long bytesNeeded, string? resume = null)
    {
        long free = Free(path);
        if (free < bytesNeeded)
        {
            throw new OutOfDiskException(path, bytesNeeded, free, resume);
        }
    }

    /// <summary>Whether <paramref name="error"/> (or an exception inside it) says a file system is full.</summary>
    public static bool IsFull(Exception? error)
    {
        for (; error is not null; error = error.InnerException)
        {
            if (error is OutOfDiskException
                || (error is IOException && (FullErrors.Contains(error.HResult) || error.Message.Contains("No space left on device", StringComparison.Ordinal))))
            {
                return true;
            }

            if (error is AggregateException aggregate && aggregate.InnerExceptions.Any(IsFull))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The bytes of the files in <paramref name="folder"/> and below (0 when it does not exist).</summary>
    public static long SizeOf(string folder) => Directory.Exists(folder)
        ? new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length)
        : 0;
}
