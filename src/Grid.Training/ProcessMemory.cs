using System.Diagnostics;

namespace Grid.Training;

/// <summary>The process's memory, reported with every run so growth and peaks are visible.</summary>
public static class ProcessMemory
{
    public static long PeakRssBytes()
    {
        using var process = Process.GetCurrentProcess();
        return process.PeakWorkingSet64;
    }
}
