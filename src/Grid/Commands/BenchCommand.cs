using System.CommandLine;
using System.Text.Json;
using Grid.Cli.Benchmarks;
using Grid.Core.Settings;
using Grid.Grains.Rollouts;
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
/// the held-out gain of <c>grid train</c>'s run on its trained task, and the change on the other task. Suite "async"
/// (not part of "all" either: minutes of training): asynchronous GRPO-D's throughput for each staleness bound k, on two
/// real silo processes and simulated on 2 to 16 rollout silos (<see cref="AsyncBenchmark"/>). Suite "qwen" (not part of
/// "all": it writes and loads a 4.4 GB checkpoint): a Qwen2-VL-2B-shaped checkpoint's load, score and generation, against
/// the same score forward in eager PyTorch (<see cref="QwenBenchmark"/>).
/// </summary>
internal static class BenchCommand
{
    /// <summary>"grid" is control-plane + rollout-engine + grid-tax; each of those also runs alone.</summary>
    private static readonly string[] Suites = ["all", "policy", "grid", "control-plane", "rollout-engine", "grid-tax", "learning", "async", "qwen"];

    /// <summary>The async suite's parts: both, or one of them.</summary>
    private static readonly string[] AsyncParts = ["both", "real", "simulated"];

    public static Command Create()
    {
        var options = new SettingsOptions();
        var suite = new Option<string>("--suite") { Description = "policy, grid or all (default); or one grid benchmark: control-plane, rollout-engine, grid-tax; or learning (a whole grid train run); or async (asynchronous GRPO-D by staleness bound, real and simulated); or qwen (a Qwen2-VL-2B-shaped checkpoint against eager PyTorch).", DefaultValueFactory = _ => "all" };
        var repeats = new Option<int>("--repeats") { Description = "Timed runs per measurement (medians are reported).", DefaultValueFactory = _ => 5 };
        var rounds = new Option<int>("--rounds") { Description = "Grid tax: in-process + grid run pairs (step times pooled).", DefaultValueFactory = _ => 2 };
        var taxSteps = new Option<int>("--tax-steps") { Description = "Grid tax: timed GRPO-D steps per run (after 2 warm-up steps).", DefaultValueFactory = _ => 6 };
        var groupsPerStep = new Option<int>("--groups-per-step") { Description = "Control plane: prompt groups per step.", DefaultValueFactory = _ => 1000 };
        var silos = new Option<string>("--silos") { Description = "Control plane: silo counts to measure, comma-separated (1 to 8 each).", DefaultValueFactory = _ => "1,2,3" };
        var staleness = new Option<string>("--staleness") { Description = "Async: staleness bounds k (rollouts.max_staleness) to measure, comma-separated; the first should be 0, the baseline.", DefaultValueFactory = _ => "0,1,2" };
        var asyncPart = new Option<string>("--async-part") { Description = "Async: both (default), real (two silo processes) or simulated (fixed-answer policy with simulated costs).", DefaultValueFactory = _ => "both" };
        var rolloutSilos = new Option<string>("--rollout-silos") { Description = "Async, simulated: rollout-only silo counts, comma-separated (1 to 32 each), beside one learner-only silo.", DefaultValueFactory = _ => "2,4,8,16" };
        var simSteps = new Option<int>("--sim-steps") { Description = "Async, simulated: steps of each run (the first 2 are warm-up).", DefaultValueFactory = _ => 8 };
        var simPrompts = new Option<int>("--sim-prompts") { Description = "Async, simulated: prompt groups per step (of the real part's group size).", DefaultValueFactory = _ => 32 };
        var genMs = new Option<double?>("--gen-ms-per-token") { Description = "Async, simulated: generation milliseconds per token on one rollout silo (default: the real part's measured profile, else 0.67)." };
        var learnerMs = new Option<double?>("--learner-ms-per-sample") { Description = "Async, simulated: learner milliseconds per trained completion (default: the real part's measured profile, else 19.3)." };
        var simTokens = new Option<double?>("--sim-tokens-per-completion") { Description = "Async, simulated: tokens of one simulated completion (default: the real part's mean, else 38.8)." };
        var timeScale = new Option<double>("--sim-time-scale") { Description = "Async, simulated: multiplies both simulated costs (e.g. 0.25 runs 4x faster with the same ratios).", DefaultValueFactory = _ => 1.0 };
        var qwenCheckpoint = new Option<DirectoryInfo?>("--qwen-checkpoint") { Description = $"Qwen: folder of the random Qwen2-VL-2B-shaped checkpoint, written there once (about 4.4 GB) and reused (default {QwenBenchmark.DefaultCheckpointFolder})." };
        var qwenRepeats = new Option<int>("--qwen-repeats") { Description = "Qwen: timed runs of each score and generation measurement, in Grid and in PyTorch (medians are reported).", DefaultValueFactory = _ => 2 };
        var json = new Option<FileInfo?>("--json") { Description = "Write the results as JSON here (the async suite's chart, async-throughput.png, goes beside it)." };
        var command = new Command("bench", "Measure the policy against this machine's GEMM peak, and the grid against the in-process loop.")
        {
            suite, repeats, rounds, taxSteps, groupsPerStep, silos, staleness, asyncPart, rolloutSilos, simSteps, simPrompts, genMs,
            learnerMs, simTokens, timeScale, qwenCheckpoint, qwenRepeats, json,
        };
        // The shared settings options, described for what they change here.
        options.Set.Description = "Override one setting of the benchmarked runs and model, e.g. --set prompts_per_step=8 (applied last).";
        options.Steps.Description = "Learning suite: GRPO-D steps of its run; async suite: steps of each real run (default 12, the first 2 "
            + "warm-up). The grid tax times --tax-steps instead.";
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
            int[] siloCounts = IntegerList("silos", parse.GetValue(silos)!, 1, 8, "silo counts from 1 to 8, comma-separated, e.g. 1,2,3",
                repeats: true);
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
            AsyncBench? asynchronous = null;
            QwenBench? qwen = null;
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

            if (which is "async")
            {
                asynchronous = RunAsync(parse, options, settings, parse.GetValue(staleness)!, parse.GetValue(asyncPart)!,
                    parse.GetValue(rolloutSilos)!, Between("sim-steps", parse.GetValue(simSteps), 1000),
                    Between("sim-prompts", parse.GetValue(simPrompts), 4096), parse.GetValue(genMs), parse.GetValue(learnerMs),
                    parse.GetValue(simTokens), parse.GetValue(timeScale), parse.GetValue(json)?.FullName);
            }

            if (which is "qwen")
            {
                int qwenRuns = Between("qwen-repeats", parse.GetValue(qwenRepeats), 20);
                string folder = parse.GetValue(qwenCheckpoint)?.FullName ?? QwenBenchmark.DefaultCheckpointFolder;
                qwen = TorchThread.Run(() =>
                {
                    PolicyRuntime.Configure(settings.Threads, settings.Seed);
                    return QwenBenchmark.Run(folder, qwenRuns, settings.Threads, line => AnsiConsole.MarkupLineInterpolated($"[grey]{line}[/]"));
                });
                WriteQwen(qwen);
            }

            if (parse.GetValue(json) is { } file)
            {
                File.WriteAllText(file.FullName, JsonSerializer.Serialize(
                    new GridBenchReport(started, which, policy, tax, engine, control, learning, policyLoad, asynchronous, qwen),
                    RunFolder.DocumentOptions));
            }

            return Task.FromResult(0);
        });
        return command;
    }

    private static AsyncBench RunAsync(System.CommandLine.ParseResult parse, SettingsOptions options, RunSettings settings,
        string stalenessText, string part, string rolloutSilosText, int simSteps, int simPrompts, double? genMs, double? learnerMs,
        double? simTokens, double timeScale, string? json)
    {
        const int warmup = 2;
        int[] ks = IntegerList("staleness", stalenessText, 0, RunSettingsValidator.MaxStaleness, "staleness bounds from 0 to 16, each once, comma-separated, e.g. 0,1,2");
        int[] rolloutSilos = IntegerList("rollout-silos", rolloutSilosText, 1, 32, "rollout silo counts from 1 to 32, each once, comma-separated, e.g. 2,4,8,16");
        if (!AsyncParts.Contains(part))
        {
            throw new InvalidSettingException("async-part", part, InvalidSettingException.OneOf(AsyncParts));
        }

        if (!(timeScale is > 0 and <= 100))
        {
            throw new InvalidSettingException("sim-time-scale", timeScale, "a number above 0 and at most 100, e.g. 0.25");
        }

        SimulatedCost("gen-ms-per-token", genMs, 1_000);
        SimulatedCost("learner-ms-per-sample", learnerMs, 60_000);
        SimulatedCost("sim-tokens-per-completion", simTokens, 100_000);

        if (simSteps <= warmup)
        {
            throw new InvalidSettingException("sim-steps", simSteps, $"more than the {warmup} warm-up steps");
        }

        AsyncRealBench? real = null;
        if (part is "both" or "real")
        {
            int steps = parse.GetValue(options.Steps) ?? 12;
            if (steps <= warmup)
            {
                throw new InvalidSettingException("steps", steps, $"more than the {warmup} warm-up steps");
            }

            var runSettings = RunSettingsLoader.Load(parse.GetValue(options.Preset), parse.GetValue(options.Config)?.FullName,
                [.. AsyncBenchmark.RealDefaults(steps), .. parse.GetValue(options.Set) ?? []],
                new RunSettingFlags(Task: parse.GetValue(options.Task), Seed: parse.GetValue(options.Seed), OutputDirectory: settings.OutputDirectory));
            real = AsyncBenchmark.RunReal(runSettings, ks, warmup, line => AnsiConsole.MarkupLineInterpolated($"[grey]{line}[/]"));
            WriteAsyncReal(real);
        }

        AsyncSimulatedBench? simulated = null;
        if (part is "both" or "simulated")
        {
            var baseCost = real?.Profile ?? AsyncBenchmark.DefaultCost;
            string source = real is null ? "built-in profile" : "measured profile of the real part";
            if (genMs is not null || learnerMs is not null || simTokens is not null)
            {
                source += ", overridden";
            }

            var cost = new FixedAnswerCost((genMs / 1000 ?? baseCost.GenerationSecondsPerToken) * timeScale,
                simTokens ?? baseCost.TokensPerCompletion, (learnerMs / 1000 ?? baseCost.LearnerSecondsPerSample) * timeScale);
            if (timeScale != 1)
            {
                source += $", times {timeScale:G3}";
            }

            string folder = json is null ? settings.OutputDirectory : Path.GetDirectoryName(json) ?? ".";
            int groupSize = real?.GroupSize ?? 4;
            simulated = AsyncBenchmark.RunSimulated(cost, source, rolloutSilos, ks, simSteps, warmup, simPrompts, groupSize,
                settings.OutputDirectory, Path.Combine(folder, AsyncChart.FileName), line => AnsiConsole.MarkupLineInterpolated($"[grey]{line}[/]"));
            WriteAsyncSimulated(simulated, ks);
        }

        return new AsyncBench(real, simulated);
    }

    /// <summary>A simulated cost given on the command line: absent, or a finite number from 0 to <paramref name="max"/>.</summary>
    private static void SimulatedCost(string name, double? value, double max)
    {
        if (value is { } given && !(given >= 0 && given <= max))
        {
            throw new InvalidSettingException(name, given, $"a number from 0 to {max:N0} (leave it out to use the measured profile)");
        }
    }

    /// <summary>
    /// The comma-separated integers of option <paramref name="name"/>, each in [<paramref name="min"/>,
    /// <paramref name="max"/>] (min &gt;= 0) and, unless <paramref name="repeats"/>, each once; else refused with
    /// <paramref name="expected"/>.
    /// </summary>
    private static int[] IntegerList(string name, string text, int min, int max, string expected, bool repeats = false)
    {
        var values = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(part => int.TryParse(part, out int n) && n >= min && n <= max ? n : -1).ToArray();
        return values.Length > 0 && values.All(n => n >= 0) && (repeats || values.Distinct().Count() == values.Length)
            ? values
            : throw new InvalidSettingException(name, text, expected);
    }

    private static string Staleness(int[] groups, int dropped) =>
        $"{string.Join(" / ", groups)}{(dropped > 0 ? $"; {dropped} dropped" : "")}";

    private static void WriteAsyncReal(AsyncRealBench r)
    {
        var table = new Table().AddColumns("k", "steps/s", "vs k = 0", "tokens/s", "vs k = 0", "learner idle", "groups by lag 0 / 1 / ...",
            "rollout s", "update s", "step s (min-max)", "steps/s at median step", "grain calls timed out");
        foreach (var row in r.Rows)
        {
            string target = row.MaxStaleness == 1 ? $" ({(row.StepsRatio >= r.TargetStepsRatio ? "meets" : "misses")} >= {r.TargetStepsRatio:F1}x)" : "";
            table.AddRow($"{row.MaxStaleness}", $"{row.StepsPerSecond:F3}", $"{row.StepsRatio:F2}x{target}", $"{row.TokensPerSecond:N0}",
                $"{row.TokensRatio:F2}x", $"{row.LearnerIdleFraction:P0}", Staleness(row.StalenessGroups, row.DroppedStaleGroups),
                $"{row.SecondsRolloutMean:F2}", $"{row.SecondsUpdateMean:F2}",
                row.StepSeconds.Length > 0 ? $"{row.StepSeconds.Min():F1}-{row.StepSeconds.Max():F1}" : "-", $"{row.MedianStepsPerSecond:F3}",
                $"{row.GrainCallTimeouts}");
        }

        ConsoleWidth.Titled($"async GRPO-D, real: learner silo + rollout silo processes, {r.Model}, {r.PromptsPerStep} prompts x {r.GroupSize}, "
            + $"{r.MaxNewTokens} new tokens; {r.Steps - r.WarmupSteps} timed steps after {r.WarmupSteps} warm-up (target: k = 1 >= {r.TargetStepsRatio:F1}x k = 0 steps/s)", table);
        var p = r.Profile;
        AnsiConsole.MarkupLineInterpolated(
            $"{r.PinningNote}; profile at k = 0: {p.GenerationSecondsPerToken * 1000:F2} ms/token generated, {p.TokensPerCompletion:F1} tokens/completion, {p.LearnerSecondsPerSample * 1000:F1} ms/sample learner; load avg {r.LoadAverageBefore:F2} -> {r.LoadAverageAfter:F2}");
    }

    private static void WriteAsyncSimulated(AsyncSimulatedBench s, int[] ks)
    {
        var table = new Table().AddColumns(["rollout silos", .. ks.Select(k => $"k = {k} steps/s (vs k = 0, learner idle; at median step)")]);
        foreach (var group in s.Rows.GroupBy(r => r.RolloutSilos))
        {
            table.AddRow([$"{group.Key}", .. ks.Select(k => group.FirstOrDefault(r => r.MaxStaleness == k) is { } row
                ? $"{row.StepsPerSecond:F3} ({row.StepsRatio:F2}x, {row.LearnerIdleFraction:P0}; {row.MedianStepsPerSecond:F3}){(row.LearnerIdleFraction < s.LearnerBoundIdle ? " learner-bound" : "")}"
                : "-")]);
        }

        var c = s.Cost;
        ConsoleWidth.Titled($"async GRPO-D, simulated: 1 learner silo + N rollout silos, fixed-answer policy, {s.PromptsPerStep} prompts x {s.GroupSize}; "
            + $"{c.GenerationSecondsPerToken * 1000:F3} ms/token x {c.TokensPerCompletion:F1} tokens per completion, {c.LearnerSecondsPerSample * 1000:F2} ms/sample learner ({s.CostSource}); "
            + $"{s.Steps - s.WarmupSteps} timed steps after {s.WarmupSteps} warm-up", table);
        foreach (int k in ks)
        {
            AnsiConsole.MarkupLineInterpolated($"k = {k}: {(s.LearnerBoundFrom[k] is { } n ? $"the learner is the bottleneck (idle < {s.LearnerBoundIdle:P0}) from {n} rollout silos" : "the learner is never the bottleneck here")}");
        }

        if (s.Chart is not null)
        {
            ConsoleWidth.Copyable($"chart: {s.Chart}");
        }

        AnsiConsole.MarkupLineInterpolated($"load avg {s.LoadAverageBefore:F2} -> {s.LoadAverageAfter:F2}");
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

    private static void WriteQwen(QwenBench q)
    {
        static string Seconds(double[] values) => values.Length == 1 ? $"{values[0]:F1} s"
            : $"{BenchStatistics.Median(values):F1} s (runs: {string.Join(", ", values.Select(v => v.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)))})";
        var p = q.Python;
        var table = new Table().AddColumns("measurement", "Grid (TorchSharp)", "PyTorch eager", "Grid / PyTorch");
        table.AddRow("load (BF16 safetensors -> fp32)", $"{q.LoadSeconds:F1} s", p is null ? "-" : $"{p.LoadSeconds:F1} s", q.LoadRatio is { } l ? $"{l:F2}" : "-");
        table.AddRow("peak RSS of loading", $"{q.LoadPeakRssBytes / 1e9:F2} GB", p is null ? "-" : $"{p.LoadPeakRssBytes / 1e9:F2} GB", "-");
        table.AddRow($"score forward, {q.ImageWidth}x{q.ImageHeight} image ({string.Join("x", q.ImageGridThw)} patches), {q.ScorePromptTokens} + {q.ScoreCompletionTokens} tokens",
            Seconds(q.ScoreSeconds), p is null ? "-" : Seconds(p.ForwardSeconds), q.ScoreRatio is { } s ? $"{s:F2}" : "-");
        foreach (var g in q.Generation)
        {
            table.AddRow($"generation, batch {g.BatchSize}, {g.PromptTokens}-token prompt + {g.NewTokens} new tokens", $"{g.TokensPerSecond:F2} tok/s ({Seconds(g.Seconds)})", "-", "-");
        }

        ConsoleWidth.Titled($"qwen: Qwen2-VL-2B-shaped checkpoint, random BF16 weights, {q.Parameters:N0} parameters, fp32 on CPU, {q.Threads} threads", table);
        if (p is not null)
        {
            AnsiConsole.MarkupLineInterpolated(
                $"PyTorch {p.TorchVersion}, {p.Threads} threads, peak RSS {p.PeakRssBytes / 1e9:F2} GB; largest |log-prob difference| Grid vs PyTorch {q.MaxAbsLogProbDifference:G3}");
        }
        else
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]{q.PythonNote}[/]");
        }

        string written = q.CheckpointWriteSeconds is { } w ? $"written in {w:F0} s" : "reused";
        AnsiConsole.MarkupLineInterpolated($"checkpoint {q.CheckpointBytes / 1e9:F2} GB ({written}); Grid's process held {q.GridRssDuringBaselineBytes / 1e9:F2} GB while the baseline ran; load avg {q.LoadAverageBefore:F2} -> {q.LoadAverageAfter:F2}");
        ConsoleWidth.Copyable($"checkpoint: {q.Checkpoint}");
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
