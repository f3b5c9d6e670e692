using Grid.Contracts.Runs;
using Grid.Grains.Rollouts;
using Grid.Training.Benchmarks;
using Grid.Training.Settings;

namespace Grid.Cli.Benchmarks;

/// <summary>
/// Prompt groups completed per second with <paramref name="Silos"/> silos, median over the timed steps, and the bench
/// process's CPU seconds per group (all silos run in it), which other work on a shared machine disturbs much less.
/// </summary>
public sealed record ControlPlaneBench(int Silos, int GroupsPerStep, int TimedSteps, double GroupsPerSecond,
    double MedianStepSeconds, double CpuMicrosecondsPerGroup, double LoadAverageBefore, double LoadAverageAfter)
{
    /// <summary>Groups/s if the process had every core to itself: cores / CPU seconds per group.</summary>
    public double GroupsPerSecondOnIdleCores => Environment.ProcessorCount / (CpuMicrosecondsPerGroup / 1e6);
}

/// <summary>
/// The control plane: a run on silos whose rollout policy costs nothing (<see cref="RolloutPolicy.FixedAnswer"/>: a
/// canned completion, no learner update), so a step is only the grid's own work: the controller's plan, one
/// prompt-group grain per prompt (assignment, three persisted state writes, the engine call, scoring with the
/// verifier, advantages), a scored group to the learner, placeholder weights through the weight store, the step report,
/// and the controller's persisted step record. Groups/s = groups per step / median step wall time after warm-up.
/// </summary>
internal static class ControlPlaneBenchmark
{
    public static ControlPlaneBench Run(int silos, int groupsPerStep, int warmupSteps, int timedSteps, string outputDirectory)
    {
        int steps = warmupSteps + timedSteps;
        var settings = RunSettingsLoader.Load("smoke", overrides:
        [
            $"name=\"bench-control-plane-{silos}\"", $"steps={steps}", $"prompts_per_step={groupsPerStep}", "group_size=8",
            $"checkpoint_every={steps}", $"output_directory={System.Text.Json.JsonSerializer.Serialize(outputDirectory)}",
        ]);
        double loadBefore = BenchStatistics.LoadAverage();
        using var cluster = BenchCluster.Start(silos, new RolloutEngineOptions { Policy = RolloutPolicy.FixedAnswer });
        var (seconds, cpuSeconds, reports) = RunTimer.Run(cluster.Grains, $"bench-control-plane-{silos}-{Guid.NewGuid():N}",
            new RunSpec(settings, AllowCpuLearner: true), steps, TimeSpan.FromMinutes(5),
            poll: TimeSpan.FromMilliseconds(5)); // steps of ~0.5 s: CPU per step needs a fine poll
        if (reports.Any(r => r.Groups != groupsPerStep))
        {
            throw new BenchmarkFailedException(
                $"A control-plane step completed {reports.Min(r => r.Groups)} of {groupsPerStep} groups; every group must complete.");
        }

        double median = BenchStatistics.Median(seconds.Skip(warmupSteps));
        double cpuPerGroup = BenchStatistics.Median(cpuSeconds.Skip(warmupSteps)) / groupsPerStep;
        return new ControlPlaneBench(silos, groupsPerStep, timedSteps, groupsPerStep / median, median, cpuPerGroup * 1e6, loadBefore,
            BenchStatistics.LoadAverage());
    }
}
