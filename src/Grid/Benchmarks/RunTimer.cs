using System.Diagnostics;
using Grid.Contracts.Runs;

namespace Grid.Cli.Benchmarks;

/// <summary>
/// Drives one run on a grid and times its steps: wall time from the learner's completion stamps (step 0 from the start
/// call), as the in-process loop's are from its step callbacks; this process's CPU time per step from polling the
/// controller every <c>poll</c>. The polling awaits: a blocking wait on each poll spun a core in
/// <c>Task.SpinThenBlockingWait</c>, CPU the grid was charged for and the in-process loop was not.
/// </summary>
internal static class RunTimer
{
    /// <returns>
    /// The wall seconds of each step (step 0 counted from the start call), this process's CPU seconds in each step
    /// (every silo and the client run in it), and the step reports.
    /// </returns>
    public static (double[] StepSeconds, double[] StepCpuSeconds, StepReport[] Reports) Run(IGrainFactory grains, string runId, RunSpec spec,
        int steps, TimeSpan timeout, TimeSpan poll) => RunAsync(grains, runId, spec, steps, timeout, poll).GetAwaiter().GetResult();

    private static async Task<(double[] StepSeconds, double[] StepCpuSeconds, StepReport[] Reports)> RunAsync(IGrainFactory grains,
        string runId, RunSpec spec, int steps, TimeSpan timeout, TimeSpan poll)
    {
        var controller = grains.GetGrain<IControllerGrain>(runId);
        using var process = Process.GetCurrentProcess();
        double cpuStart = process.TotalProcessorTime.TotalSeconds;
        var clock = Stopwatch.StartNew();
        var startedAt = DateTimeOffset.UtcNow;
        var status = await controller.Start(spec).ConfigureAwait(false);
        var cpuAt = new double[steps];
        long seen = 0;
        while (seen < steps)
        {
            if (status.State == RunState.Failed)
            {
                throw new BenchmarkFailedException($"Run {runId} failed on the grid: {status.LastError}");
            }

            if (clock.Elapsed > timeout)
            {
                throw new BenchmarkFailedException(
                    $"Run {runId} did not finish {steps} steps within {timeout}: {seen} done; last error: {status.LastError ?? "none"}.");
            }

            await Task.Delay(poll).ConfigureAwait(false);
            status = await controller.GetStatus().ConfigureAwait(false);
            process.Refresh();
            double cpu = process.TotalProcessorTime.TotalSeconds - cpuStart;
            for (; seen < Math.Min(status.StepsCompleted, steps); seen++)
            {
                cpuAt[seen] = cpu;
            }
        }

        var reports = await controller.GetStepReports(0).ConfigureAwait(false);
        var stamps = reports.Take(steps).Select(r => r.CompletedAt).ToArray();
        var seconds = stamps.Select((t, i) => (t - (i == 0 ? startedAt : stamps[i - 1])).TotalSeconds).ToArray();
        var cpuSeconds = cpuAt.Select((t, i) => i == 0 ? t : t - cpuAt[i - 1]).ToArray();
        return (seconds, cpuSeconds, reports);
    }
}
