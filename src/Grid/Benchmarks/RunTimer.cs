using System.Diagnostics;
using Grid.Contracts.Runs;

namespace Grid.Cli.Benchmarks;

/// <summary>
/// Drives one run on a grid and records when each step completes (polling the controller every 5 ms, far below a
/// step's time), so per-step wall times can be compared with the in-process loop's. The polling awaits: a blocking
/// wait on each poll spun a core in <c>Task.SpinThenBlockingWait</c> (12% of the control-plane bench's CPU), work the
/// grid was charged for and the in-process loop was not.
/// </summary>
internal static class RunTimer
{
    /// <returns>
    /// The wall seconds of each step (step 0 counted from the start call), this process's CPU seconds in each step
    /// (every silo and the client run in it), and the step reports.
    /// </returns>
    public static (double[] StepSeconds, double[] StepCpuSeconds, StepReport[] Reports) Run(IGrainFactory grains, string runId, RunSpec spec,
        int steps, TimeSpan timeout) => RunAsync(grains, runId, spec, steps, timeout).GetAwaiter().GetResult();

    private static async Task<(double[] StepSeconds, double[] StepCpuSeconds, StepReport[] Reports)> RunAsync(IGrainFactory grains,
        string runId, RunSpec spec, int steps, TimeSpan timeout)
    {
        var controller = grains.GetGrain<IControllerGrain>(runId);
        using var process = Process.GetCurrentProcess();
        double cpuStart = process.TotalProcessorTime.TotalSeconds;
        var clock = Stopwatch.StartNew();
        var status = await controller.Start(spec).ConfigureAwait(false);
        var completedAt = new double[steps];
        var cpuAt = new double[steps];
        long seen = 0;
        while (seen < steps)
        {
            if (status.State == RunState.Failed)
            {
                throw new InvalidOperationException($"Run {runId} failed on the grid: {status.LastError}");
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException(
                    $"Run {runId} did not finish {steps} steps within {timeout}: {seen} done; last error: {status.LastError ?? "none"}.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(5)).ConfigureAwait(false);
            status = await controller.GetStatus().ConfigureAwait(false);
            double now = clock.Elapsed.TotalSeconds;
            process.Refresh();
            double cpu = process.TotalProcessorTime.TotalSeconds - cpuStart;
            for (; seen < Math.Min(status.StepsCompleted, steps); seen++)
            {
                completedAt[seen] = now;
                cpuAt[seen] = cpu;
            }
        }

        var seconds = completedAt.Select((t, i) => i == 0 ? t : t - completedAt[i - 1]).ToArray();
        var cpuSeconds = cpuAt.Select((t, i) => i == 0 ? t : t - cpuAt[i - 1]).ToArray();
        return (seconds, cpuSeconds, await controller.GetStepReports(0).ConfigureAwait(false));
    }
}
