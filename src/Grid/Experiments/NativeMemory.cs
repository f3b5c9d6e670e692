using System.Runtime.InteropServices;

namespace Grid.Cli.Experiments;

/// <summary>
/// Hands the native heap's free memory back to the system between the runs of a study. Each run's torch threads
/// allocate in glibc arenas of their own; what they free stays mapped to the process (resident) until trimmed, so a
/// study of many runs in one process grew by most of a run's peak with every run.
/// </summary>
internal static class NativeMemory
{
    /// <summary>Collects the managed heap (tensors' finalizers free native memory), then trims every malloc arena.</summary>
    public static void Release()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        try
        {
            MallocTrim(0);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // Not glibc (musl has no malloc_trim): nothing to trim, the memory is reused by the next run instead.
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);
}
