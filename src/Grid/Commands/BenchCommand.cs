using System.CommandLine;
using System.Text.Json;
using Grid.Cli.Benchmarks;
using Grid.Core.Settings;
using Grid.Training;
using Grid.Training.Benchmarks;
using Grid.Training.Runs;
using Grid.Training.Settings;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary>
/// <c>grid bench</c>: speed targets as ratios against baselines measured in the same run. Suite "policy": generation
/// and the learner step against the fp32 GEMM peak. Suite "grid": the grid tax (embedded grid over the in-process
/// loop), the rollout engine (shared engine over the raw batched generator) and the control plane (groups/s with the
/// zero-cost fixed-answer policy on 1, 2 and 3 silos). Suite "learning" (not part of "all": it is a whole training run):
/// the held-out gain of <c>grid train</c>'s run on its trained task, and the change on the other task.
/// </summary>
internal static class BenchCommand
{
    /// <summary>"grid" is control-plane + rollout-engine + grid-tax; each of those also runs alone.</summary>
    private static readonly string[] Suites = ["all", "policy", "grid", "control-plane", "rollout-engine", "grid-tax", "learning"];

    public static Command Create()
    {
        var options = new SettingsOptions();
        var suite = new Option<string>("--suite") { Description = "policy, grid or all (default); or one grid benchmark: control-plane, rollout-engine, grid-tax; or learning (a whole grid train run).", DefaultValueFactory = _ => "all" };
        var repeats = new Option<int>("--repeats") { Description = "Timed runs per measurement (medians are reported).", DefaultValueFactory = _ => 5 };
        var rounds = new Option<int>("--rounds") { Description = "Grid tax: in-process + grid run pairs (step times pooled).", DefaultValueFactory = _ => 2 };
        var taxSteps = new Option<int>("--tax-steps") { Description = "Grid tax: timed GRPO-D steps per run (after 2 warm-up steps).", DefaultValueFactory = _ => 6 };
        var groupsPerStep = new Option<int>("--groups-per-step") { Description = "Control plane: prompt groups per step.", DefaultValueFactory = _ => 1000 };
        var silos = new Option<string>("--silos") { Description = "Control plane: silo counts to measure, comma-separated (1 to 8 each).", DefaultValueFactory = _ => "1,2,3" };
        var json = new Option<FileInfo?>("--json") { Description = "Write the results as JSON here." };
        var command = new Command("bench", "Measure the policy against this machine's GEMM peak, and the grid against the in-process loop.")
        {
            suite, repeats, rounds, taxSteps, groupsPerStep, silos, json,
        };
        // The shared settings options, described for what they change here.
        options.Set.Description = "Override one setting of the benchmarked runs and model, e.g. --set prompts_per_step=8 (applied last).";
        options.Steps.Description = "Learning suite: GRPO-D steps of its run (the grid tax times --tax-steps instead).";
        options.Task.Description = "Learning and grid-tax suites: the task trained, counting or geometry.";
        options.Seed.Description = "Seed of the benchmarks' weights, prompts and sampling.";
        options.Output.Description = "Learning suite: folder for its run folder, which it keeps (default runs). The other suites "
            + "write their runs to a temporary folder and delete it.";
        options.AddTo(command);
        command.SetAction((parse, cancellation) =>
        {
            var settings = options.Load(parse);
            string which = parse.GetValue(suite)!;
            if (!Suites.Contains(which))
            {
                throw new InvalidSettingException("suite", which, InvalidSettingException.OneOf(Suites));
            }

            int n = Between("repeats", parse.GetValue(repeats), 100);
            int r = Between("rounds", parse.GetValue(rounds), 100);
            int timed = Between("tax-steps", parse.GetValue(taxSteps), 1000);
            int groups = Between("groups-per-step", parse.GetValue(groupsPerStep),
                RunSettingsValidator.MaxCompletionsPerStep / 8);
            int[] siloCounts = SiloCounts(parse.GetValue(silos)!);
            if (parse.GetValue(json) is { } target)
            {
                Training.Runs.RunPreflight.RequireWritableFile(target.FullName, "json");
            }

            var started = DateTimeOffset.UtcNow;
            PolicyBenchReport? policy = null;
            GridTaxBench? tax = null;
            RolloutEngineBench[]? engine = null;
            ControlPlaneBench[]? control = null;
            LearningBench? learning = null;
            LoadAverages? policyLoad = null;
            if (which is "all" or "policy")
            {
                double loadBefore = BenchStatistics.LoadAverage();
                policy = TorchThread.Run(() =>
                {
                    PolicyRuntime.Configure(settings.Threads, settings.Seed);
                    var config = PolicyRuntime.ConfigFor(settings.Model, settings.MaxNewTokens);
                    return PolicyBenchmark.Run(config, [1, 16, 64], learnerBatch: 64, completionTokens: settings.MaxNewTokens, repeats: n);
                });
                policyLoad = new LoadAverages(loadBefore, BenchStatistics.LoadAverage());
                WritePolicy(policy, policyLoad);
            }

            if (which is "all" or "grid" or "control-plane")
            {
                // A discarded first run: the JIT and the thread pool warm up before the 1-silo figure, not during it.
                ControlPlaneBenchmark.Run(1, groups, warmupSteps: 1, timedSteps: 1, settings.OutputDirectory);
                control = [.. siloCounts.Select(count => ControlPlaneBenchmark.Run(count, groups, warmupSteps: 2, timedSteps: 8,
                    settings.OutputDirectory))];
                WriteControlPlane(control);
            }

            if (which is "all" or "grid" or "rollout-engine")
            {
                engine = TorchThread.Run(() =>
                {
                    PolicyRuntime.Configure(settings.Threads, settings.Seed);
                    var config = PolicyRuntime.ConfigFor(settings.Model, settings.MaxNewTokens);
                    return new[] { 4, settings.PromptsPerStep }.Distinct().Select(g => RolloutEngineBenchmark.Run(config, g,
                        settings.GroupSize, settings.MaxNewTokens, n, settings.Seed)).ToArray();
                });
                WriteRolloutEngine(engine);
            }

            if (which is "all" or "grid" or "grid-tax")
            {
                tax = GridTaxBenchmark.Run(settings, warmupSteps: 2, timedSteps: timed, rounds: r);
                WriteGridTax(tax);
            }

            if (which is "learning")
            {
                learning = LearningBenchmark.Run(settings, cancellation);
                WriteLearning(learning);
            }

            if (parse.GetValue(json) is { } file)
            {
                File.WriteAllText(file.FullName, JsonSerializer.Serialize(
                    new GridBenchReport(started, which, policy, tax, engine, control, learning, policyLoad), RunFolder.DocumentOptions));
            }

            return Task.FromResult(0);
        });
        return command;
    }

    private static int[] SiloCounts(string text)
    {
        var counts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(part => int.TryParse(part, out int n) && n is >= 1 and <= 8 ? n : -1).ToArray();
        return counts.Length > 0 && counts.All(n => n > 0)
            ? counts
            : throw new InvalidSettingException("silos", text, "silo counts from 1 to 8, comma-separated, e.g. 1,2,3");
    }

    private static int Between(string name, int value, int max) =>
        value >= 1 && value <= max ? value : throw new InvalidSettingException(name, value, $"an integer in [1, {max}]");

    private static void WritePolicy(PolicyBenchReport report, LoadAverages load)
    {
        AnsiConsole.MarkupLineInterpolated($"model {report.Model}, {report.Parameters:N0} parameters; fp32 GEMM peak {report.GemmGflops:F1} GFLOP/s (median)");
        var table = new Table().AddColumns("benchmark", "throughput", "GFLOP/s", "of GEMM peak");
        foreach (var g in report.Generation)
        {
            table.AddRow($"generation, batch {g.BatchSize} (KV cache)", $"{g.TokensPerSecond:N0} tok/s", $"{g.Gflops:F1}", $"{g.FractionOfGemmPeak:P0}");
        }

        var l = report.Learner;
        table.AddRow($"learner step, {l.Completions} x {l.CompletionTokens} tokens", $"{l.SecondsPerStep:F3} s/step", $"{l.Gflops:F1}", $"{l.FractionOfGemmPeak:P0}");
        AnsiConsole.Write(table);
        // Other work on the cores lowers every figure above, the GEMM peak included.
        AnsiConsole.MarkupLineInterpolated($"load avg {load.Before:F2} -> {load.After:F2}");
    }

    private static void WriteControlPlane(IReadOnlyList<ControlPlaneBench> results)
    {
        var table = new Table().AddColumns("silos", "groups/step", "median step", "groups/s", $"vs {results[0].Silos} silo{(results[0].Silos == 1 ? "" : "s")}", "CPU us/group", "groups/s on idle cores", "load avg before/after");
        foreach (var c in results)
        {
            table.AddRow($"{c.Silos}", $"{c.GroupsPerStep}", $"{c.MedianStepSeconds:F3} s", $"{c.GroupsPerSecond:N0}",
                $"{c.GroupsPerSecond / results[0].GroupsPerSecond:F2}x", $"{c.CpuMicrosecondsPerGroup:N0}",
                $"{c.GroupsPerSecondOnIdleCores:N0}", $"{c.LoadAverageBefore:F2} / {c.LoadAverageAfter:F2}");
        }

        ConsoleWidth.Titled("control plane: fixed-answer policy (target >= 2,000 groups/s on one silo)", table);
    }

    private static void WriteRolloutEngine(IReadOnlyList<RolloutEngineBench> results)
    {
        var table = new Table().AddColumns("groups x G", "raw tok/s", "engine tok/s", "ratio of medians", "median paired ratio", "load avg before/after");
        foreach (var e in results)
        {
            table.AddRow($"{e.Groups} x {e.GroupSize} ({e.MaxNewTokens} new tokens)", $"{e.RawTokensPerSecond:N0}",
                $"{e.EngineTokensPerSecond:N0}", $"{e.Ratio:F3}", $"{e.MedianPairedRatio:F3}", $"{e.LoadAverageBefore:F2} / {e.LoadAverageAfter:F2}");
        }

        ConsoleWidth.Titled("rollout engine: G groups sharing a silo's engine vs one raw batched call (target >= 0.9)", table);
        var staggered = new Table().AddColumns("groups x G", "one group every", "continuous tok/s", "drain-first tok/s", "speedup", "mean latency continuous / drain-first");
        foreach (var e in results)
        {
            staggered.AddRow($"{e.Groups} x {e.GroupSize}", $"{e.StaggerMilliseconds:F0} ms", $"{e.ContinuousTokensPerSecond:N0}",
                $"{e.DrainTokensPerSecond:N0}", $"{e.ContinuousSpeedup:F2}x",
                $"{e.ContinuousMeanLatencySeconds:F3} s / {e.DrainMeanLatencySeconds:F3} s");
        }

        ConsoleWidth.Titled("continuous batching: the same groups arriving one by one over about one batch's time", staggered);
    }

    private static void WriteLearning(LearningBench l)
    {
        var table = new Table().AddColumns("task", "prompts", "before", "after", "change", "1 standard error");
        foreach (var t in l.Tasks)
        {
            table.AddRow(t.Trained ? $"{t.Task} (trained)" : t.Task, $"{t.Prompts}", $"{t.AccuracyBefore:P1}", $"{t.AccuracyAfter:P1}",
                $"{t.GainPoints:+0.0;-0.0} points", $"{t.StandardErrorPoints:F1} points");
        }

        ConsoleWidth.Titled(
            $"learning: grid train's run, GRPO-D on {l.TrainedTask} for {l.Steps} steps of {l.PromptsPerStep} prompts x {l.GroupSize}; "
                + $"greedy held-out accuracy (target: +{l.TargetGainPoints:F0} points on the trained task)", table);
        string verdict = l.GainPoints >= l.TargetGainPoints ? "meets" : "misses";
        AnsiConsole.MarkupLineInterpolated(
            $"gain {l.GainPoints:+0.0;-0.0} points ({verdict} the +{l.TargetGainPoints:F0} target); wall time {l.SecondsTotal:F0} s (warm start {l.SecondsSft:F0} s, GRPO-D {l.SecondsGrpo:F0} s); peak RSS {l.PeakRssBytes / 1e6:F0} MB");
        ConsoleWidth.Copyable($"run folder: {l.RunFolder}");
    }

    private static void WriteGridTax(GridTaxBench t)
    {
        var table = new Table().AddColumns("median seconds", "step (wall)", "rollout", "reward", "reference", "update", "publish");
        foreach (var (name, s) in new[] { ("in-process", t.InProcess), ("embedded grid", t.Grid) })
        {
            table.AddRow(name, $"{s.Total:F3}", $"{s.Rollout:F3}", $"{s.Reward:F4}", $"{s.Reference:F3}", $"{s.Update:F3}", $"{s.Publish:F4}");
        }

        ConsoleWidth.Titled($"grid tax: {t.Model}, {t.PromptsPerStep} prompts x {t.GroupSize}, {t.MaxNewTokens} new tokens; median of "
                + $"{t.TimedSteps} x {t.Rounds} steps after {t.WarmupSteps} warm-up, after an untimed run of each (target <= 1.10)", table);
        AnsiConsole.MarkupLineInterpolated(
            $"grid tax {t.Ratio:F3} (per round: {string.Join(", ", t.RatioPerRound.Select(x => x.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)))}); load avg {t.LoadAverageBefore:F2} -> {t.LoadAverageAfter:F2}");
    }
}
