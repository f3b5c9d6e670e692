using System.Diagnostics;
using Grid.Contracts.Runs;
using Grid.Core;
using Grid.Grains.Mapping;
using Grid.Hosting.Weights;
using Grid.Policy.Checkpoints;
using Grid.Policy.Model;
using Grid.Tasks;
using Grid.Tasks.Verification;
using Grid.Training;
using Grid.Training.Data;
using Grid.Training.Evaluation;
using Grid.Training.Runs;
using Grid.Training.Settings;

namespace Grid.Cli.Runs;

/// <summary>
/// Follows a run that a controller grain drives (embedded grid or cluster) into its run folder, as the in-process loop
/// writes it: metrics.jsonl from the step reports, checkpoints from the published weights every checkpoint_every
/// steps, then the final evaluation, eval-final.json and summary.json. Runs on the caller's thread, which owns this
/// side's torch work; it blocks on grain calls only while no torch scope is open.
/// </summary>
internal static class RunFollower
{
    /// <summary>Checkpoint-sized writes a step may make: the learner's weights and two AdamW moments, and a checkpoint.</summary>
    private const int WritesPerStep = 4;

    /// <param name="where">Where the run lives, for error messages ("grid", "cluster").</param>
    /// <param name="secondsBefore">Seconds the run spent before it was followed (the warm start).</param>
    /// <param name="beforeEvaluation">Runs once the last step is in, before the final evaluation (the embedded grid stops
    /// its silo there).</param>
    /// <param name="data">The run's data as it was read when the run started (null: read it now).</param>
    public static TrainingResult Follow(IControllerGrain controller, IWeightStore weights, RunSettings settings,
        TrainingResult warm, ITrainingObserver observer, TimeSpan pollInterval, string where, double secondsBefore,
        CancellationToken cancellation, Action? beforeEvaluation = null, RunData? data = null)
    {
        // Copying checkpoints needs no parallelism. With one thread this thread starts no OpenMP team of its own, which
        // would slow every torch op of a silo in this process (the README's performance knobs).
        PolicyRuntime.UseThreads(1);
        var clock = Stopwatch.StartNew();
        var folder = RunFolder.Open(warm.RunFolder);
        data ??= RunData.Shared(settings);
        using var run = RunPolicy.FromCheckpoint(warm.FinalCheckpoint, data.Tokenizer); // this side's copy, for checkpoints and the evaluation
        var policy = run.Model;
        observer.OnPhase("grpo", settings.Steps);
        // A resumed run goes on after the steps its folder already holds (none for a new run).
        var (next, skipped) = FollowedSteps(folder);
        string lastCheckpoint = NewestCheckpoint(folder, next) ?? warm.FinalCheckpoint;
        long checkpointBytes = InProcessTrainer.CheckpointBytes(policy.ParameterCount);
        while (next < settings.Steps)
        {
            cancellation.ThrowIfCancellationRequested();
            var status = ClusterCalls.Wait(controller.GetStatus, "following the run", cancellation);
            long from = next;
            foreach (var report in ClusterCalls.Wait(() => controller.GetStepReports(from), "following the run", cancellation))
            {
                // The learner's next weights and optimizer state and this side's checkpoint copy go to this file
                // system: say so now, while the newest of each is complete, rather than fail halfway through a write.
                DiskSpace.Require(folder.Path, WritesPerStep * checkpointBytes, ResumeCommandFor(folder.Path));
                var metrics = StepReports.ToMetrics(report);
                folder.AppendLine("metrics.jsonl", metrics);
                observer.OnStep(metrics);
                skipped += report.UpdateSkipped ? 1 : 0;
                next = report.Step + 1;
                if ((next % settings.CheckpointEvery == 0 || next == settings.Steps) && report.Weights is { } latest)
                {
                    PolicyCheckpoint.LoadWeights(policy, Wait(weights.ReadAsync(latest, cancellation)));
                    lastCheckpoint = folder.CheckpointPath(next);
                    DiskSpace.Require(folder.CheckpointsPath, checkpointBytes, ResumeCommandFor(folder.Path));
                    run.Save(lastCheckpoint);
                }
            }

            if (where == "grid" && status.LastError is { } lastError && lastError.Contains("No space left on device", StringComparison.Ordinal))
            {
                // The embedded grid's weight store shares the run folder's disk; a cluster's waits for room instead.
                throw new OutOfDiskException(Path.Combine(folder.Path, "weights"), WritesPerStep * checkpointBytes,
                    DiskSpace.Free(folder.Path), ResumeCommandFor(folder.Path));
            }

            if (status.State == RunState.Failed)
            {
                throw new InvalidOperationException($"Run {status.RunId} failed on the {where}: {status.LastError}");
            }

            if (next < settings.Steps && status.State != RunState.Completed)
            {
                Thread.Sleep(pollInterval);
            }
        }

        double secondsGrpo = clock.Elapsed.TotalSeconds;
        beforeEvaluation?.Invoke();
        PolicyRuntime.UseThreads(settings.Threads);
        observer.OnPhase("eval", 0);
        var final = new Evaluator(new TaskVerifier(settings.FormatWeight), settings.MaxNewTokens, run.Codec)
            .Evaluate(policy, data.EvalTasks, settings.EvalPrompts, "final", data.TrainedTask);
        folder.WriteJson("eval-final.json", final);
        observer.OnEvaluation(final);
        var result = new TrainingResult(folder.Path, warm.AfterSft, final, settings.Steps, skipped, warm.SecondsSft,
            secondsGrpo, secondsBefore + clock.Elapsed.TotalSeconds, lastCheckpoint, ProcessMemory.PeakRssBytes());
        folder.WriteJson("summary.json", result);
        return result;
    }

    /// <summary>The command that continues the run in <paramref name="runFolder"/> after an interruption.</summary>
    public static string ResumeCommandFor(string runFolder) =>
        "grid train --resume " + (runFolder.Any(char.IsWhiteSpace) ? $"\"{runFolder}\"" : runFolder);

    /// <summary>
    /// The steps metrics.jsonl holds, as (next step, skipped updates among them). A line cut short by a kill is dropped
    /// (the step is written again), and so is anything after it.
    /// </summary>
    internal static (long Next, long Skipped) FollowedSteps(RunFolder folder)
    {
        string path = Path.Combine(folder.Path, "metrics.jsonl");
        if (!File.Exists(path))
        {
            return (0, 0);
        }

        var kept = new List<string>();
        long skipped = 0;
        foreach (string line in File.ReadAllText(path).Split('\n'))
        {
            try
            {
                using var document = System.Text.Json.JsonDocument.Parse(line);
                var root = document.RootElement;
                if (root.GetProperty("step").GetInt64() != kept.Count)
                {
                    break;
                }

                skipped += root.TryGetProperty("update_skipped", out var flag) && flag.GetBoolean() ? 1 : 0;
                kept.Add(line);
            }
            catch (Exception error) when (error is System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException)
            {
                break;
            }
        }

        string whole = string.Concat(kept.Select(l => l + "\n"));
        if (new FileInfo(path).Length != System.Text.Encoding.UTF8.GetByteCount(whole))
        {
            File.WriteAllText(path, whole);
        }

        return (kept.Count, skipped);
    }

    /// <summary>The newest complete checkpoint of a step up to <paramref name="through"/> (null: none).</summary>
    private static string? NewestCheckpoint(RunFolder folder, long through)
    {
        for (long step = through; step > 0; step--)
        {
            string path = folder.CheckpointPath(step);
            if (File.Exists(Path.Combine(path, PolicyCheckpoint.ManifestFileName)))
            {
                return path;
            }
        }

        return null;
    }

    private static T Wait<T>(Task<T> task) => task.GetAwaiter().GetResult();
}
