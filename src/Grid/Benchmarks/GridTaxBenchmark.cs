using System.Diagnostics;
using Grid.Cli.Commands;
using Grid.Cli.Embedded;
using Grid.Contracts.Runs;
using Grid.Core;
using Grid.Training;
using Grid.Training.Benchmarks;
using Grid.Training.Evaluation;
using Grid.Training.Metrics;
using Grid.Training.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace Grid.Cli.Benchmarks;

/// <summary>Median seconds of one GRPO-D step and of each of its phases.</summary>
public sealed record StepTimes(double Total, double Rollout, double Reward, double Reference, double Update, double Publish);

/// <summary>The embedded grid's step time over the in-process loop's: same settings, same warm-start checkpoint.</summary>
public sealed record GridTaxBench(string Model, int PromptsPerStep, int GroupSize, int MaxNewTokens, int WarmupSteps,
    int TimedSteps, int Rounds, StepTimes InProcess, StepTimes Grid, double Ratio, double[] RatioPerRound,
    double LoadAverageBefore, double LoadAverageAfter);

/// <summary>
/// The grid tax. One short SFT warm start gives a checkpoint; then, in each round, the in-process loop
/// (<see cref="InProcessTrainer"/>) and the embedded grid (<see cref="EmbeddedGrid"/>: one silo, controller, prompt
/// groups, rollout engine, learner, weight store) each run the same GRPO-D steps from it. A step's time is wall time
/// between completed steps (the in-process observer's callbacks; the grid learner's completion stamps), so it
/// includes everything the grid adds: grain calls, persistence, publishing and reloading weights. The first steps
/// of every run are warm-up; the ratio is the median grid step over the median in-process step, pooled over rounds
/// (which side runs first alternates between rounds). Before the rounds, each side runs once untimed: the process
/// JIT-compiles the code it runs in its first seconds (for the grid, much of Orleans), and that compiler thread took
/// up to half a core during the first rounds' grid steps, a cost a training run pays once, not at every step.
/// </summary>
internal static class GridTaxBenchmark
{
    public static GridTaxBench Run(RunSettings settings, int warmupSteps, int timedSteps, int rounds)
    {
        // The warm start and the in-process runs write run folders nobody asked for: into a temporary folder, deleted at
        // the end, not into the output directory.
        string runs = Directory.CreateTempSubdirectory("grid-bench-runs-").FullName;
        try
        {
            return Measure(settings with { OutputDirectory = runs }, warmupSteps, timedSteps, rounds);
        }
        finally
        {
            Directory.Delete(runs, recursive: true);
        }
    }

    private static GridTaxBench Measure(RunSettings settings, int warmupSteps, int timedSteps, int rounds)
    {
        int steps = warmupSteps + timedSteps;
        // The warm start only has to be shared by both sides, not good: a short SFT keeps the benchmark short.
        settings = settings with
        {
            Steps = steps,
            CheckpointEvery = steps,
            EvalPrompts = Math.Min(settings.EvalPrompts, 8),
            EvalEvery = 0, // the tax is the grid's overhead on training steps; validation is the same work on both sides
            Sft = settings.Sft with { Steps = Math.Min(settings.Sft.Steps, 30), Demonstrations = Math.Min(settings.Sft.Demonstrations, 256) },
        };
        RunSettingsValidator.Validate(settings);
        double loadBefore = BenchStatistics.LoadAverage();
        string checkpoint = TorchThread.Run(() => new InProcessTrainer(settings with { Name = "bench-sft" }, new StepClock())
            .Run(grpo: false).FinalCheckpoint);
        var fromCheckpoint = settings with { InitCheckpoint = checkpoint, Sft = settings.Sft with { Steps = 0 } };

        var inProcess = new List<StepMetrics>();
        var inProcessSeconds = new List<double>();
        var grid = new List<StepReport>();
        var gridSeconds = new List<double>();
        var ratios = new List<double>();
        for (int round = -1; round < rounds; round++) // round -1 warms the process up and is not counted
        {
            // Alternate which side goes first, so a drift in the machine's load does not favour one side.
            var clock = new StepClock();
            string label = round < 0 ? "warmup" : $"{round}";
            var inProcessRun = () => TorchThread.Run(() =>
                new InProcessTrainer(fromCheckpoint with { Name = $"bench-inprocess-{label}" }, clock).Run());
            if (round % 2 == 0)
            {
                inProcessRun();
            }

            var (seconds, _, reports) = RunGrid(fromCheckpoint with { Name = $"bench-grid-{label}" }, steps);
            if (round % 2 != 0)
            {
                inProcessRun();
            }

            if (round < 0)
            {
                continue;
            }

            inProcess.AddRange(clock.Steps.Skip(warmupSteps));
            inProcessSeconds.AddRange(clock.StepSeconds.Skip(warmupSteps));
            grid.AddRange(reports.Skip(warmupSteps));
            gridSeconds.AddRange(seconds.Skip(warmupSteps));
            ratios.Add(BenchStatistics.Median(seconds.Skip(warmupSteps)) / BenchStatistics.Median(clock.StepSeconds.Skip(warmupSteps)));
        }

        var inProcessTimes = new StepTimes(BenchStatistics.Median(inProcessSeconds),
            BenchStatistics.Median(inProcess.Select(m => m.SecondsRollout)), BenchStatistics.Median(inProcess.Select(m => m.SecondsReward)),
            BenchStatistics.Median(inProcess.Select(m => m.SecondsReference)), BenchStatistics.Median(inProcess.Select(m => m.SecondsUpdate)),
            BenchStatistics.Median(inProcess.Select(m => m.SecondsPublish)));
        var gridTimes = new StepTimes(BenchStatistics.Median(gridSeconds),
            BenchStatistics.Median(grid.Select(m => m.SecondsRollout)), BenchStatistics.Median(grid.Select(m => m.SecondsReward)),
            BenchStatistics.Median(grid.Select(m => m.SecondsReference)), BenchStatistics.Median(grid.Select(m => m.SecondsUpdate)),
            BenchStatistics.Median(grid.Select(m => m.SecondsPublish)));
        var m = settings.Model;
        return new GridTaxBench($"d{m.DModel} x {m.Layers} layers, {m.Heads} heads", settings.PromptsPerStep, settings.GroupSize,
            settings.MaxNewTokens, warmupSteps, timedSteps, rounds, inProcessTimes, gridTimes,
            gridTimes.Total / inProcessTimes.Total, [.. ratios], loadBefore, BenchStatistics.LoadAverage());
    }

    private static (double[] Seconds, double[] CpuSeconds, StepReport[] Reports) RunGrid(RunSettings settings, int steps)
    {
        string folder = Directory.CreateTempSubdirectory("grid-bench-tax-").FullName;
        try
        {
            using var host = EmbeddedGrid.Start(folder);
            var grains = host.Services.GetRequiredService<IGrainFactory>();
            var result = RunTimer.Run(grains, $"{settings.Name}-{Guid.NewGuid():N}",
                new RunSpec(settings, AllowCpuLearner: true), steps, TimeSpan.FromMinutes(30),
                poll: TimeSpan.FromMilliseconds(100)); // step times come from the learner's stamps; polling only competes
            host.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
            return result;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Wall time between the in-process loop's step callbacks (step 0 from the start of GRPO).</summary>
    private sealed class StepClock : ITrainingObserver
    {
        private readonly Stopwatch _clock = new();

        public List<StepMetrics> Steps { get; } = [];

        public List<double> StepSeconds { get; } = [];

        public void OnPhase(string phase, int totalSteps)
        {
            if (phase == "grpo")
            {
                _clock.Restart();
            }
        }

        public void OnSftStep(int step, double loss)
        {
        }

        public void OnEvaluation(EvalReport report)
        {
        }

        public void OnStep(StepMetrics metrics)
        {
            StepSeconds.Add(_clock.Elapsed.TotalSeconds);
            _clock.Restart();
            Steps.Add(metrics);
        }
    }
}
