using System.Runtime.InteropServices;

namespace Grid.Cli.Experiments;

/// <summary>
/// Caps glibc's malloc arenas for a process that runs many trainings one after another. Each new torch and silo
/// thread may get an arena of its own, and memory freed there stays with the arena: in a study of five 10-step runs
/// the process grew from 1.1 GB to 2.9 GB with the default (up to 8 arenas per core) and stayed at 1.9 GB from the
/// second run on with 2 arenas (MALLOC_ARENA_MAX=2, 2026-12-04), in the same time. <c>mallopt</c> sets the same cap
/// from inside the process; elsewhere than glibc this does nothing.
/// </summary>
internal static class MallocArenas
{
    private const int ArenaMax = -8; // M_ARENA_MAX in glibc's malloc.h

    /// <summary>Caps the arenas at <paramref name="arenas"/>; false where the C library is not glibc or refuses it.</summary>
    public static bool Limit(int arenas)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            return Mallopt(ArenaMax, arenas) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // musl and other C libraries have no mallopt or no arenas
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int parameter, int value);
}
