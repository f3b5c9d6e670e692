using System.Diagnostics;
using System.Text;
using Grid.Contracts.Runs;
using Grid.Grains.Rollouts;
using Grid.Hosting;
using Grid.Hosting.Configuration;
using Grid.Training.Benchmarks;
using Grid.Training.Settings;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Runtime;

namespace Grid.Cli.Benchmarks;

/// <summary>
/// One bounded-staleness setting k (<c>rollouts.max_staleness</c>) measured over the timed steps (after the warm-up):
/// steps and generated tokens per wall second, each over k = 0's measured in the same run, the learner's mean idle
/// share, trained groups by lag (index = versions behind) and groups dropped as too stale, each timed step's wall
/// seconds, and (real part only) how many grain calls the silos logged as timed out during the run.
/// </summary>
public sealed record AsyncRow(int RolloutSilos, int MaxStaleness, double StepsPerSecond, double TokensPerSecond,
    double StepsRatio, double TokensRatio, double LearnerIdleFraction, int[] StalenessGroups, int DroppedStaleGroups,
    double SecondsRolloutMean, double SecondsUpdateMean, double[] StepSeconds, int? GrainCallTimeouts = null)
{
    /// <summary>1 / the median timed step: the rate of a typical step, which a few stalled steps do not move.</summary>
    public double MedianStepsPerSecond => StepSeconds.Length > 0 ? 1 / BenchStatistics.Median(StepSeconds) : 0;
}

/// <summary>
/// The real part: two <c>grid silo</c> processes (learner-only and rollout-only, each pinned to one core when
/// <see cref="Pinned"/>), the same training run for every k. <see cref="Profile"/> is the costs measured at k = 0 that
/// the simulated part defaults to.
/// </summary>
public sealed record AsyncRealBench(string Model, int Steps, int WarmupSteps, int PromptsPerStep, int GroupSize,
    int MaxNewTokens, bool Pinned, string PinningNote, IReadOnlyList<AsyncRow> Rows, double TargetStepsRatio,
    FixedAnswerCost Profile, double LoadAverageBefore, double LoadAverageAfter);

/// <summary>
/// The simulated part: the fixed-answer policy with simulated costs (<see cref="Cost"/>, spent waiting) on one
/// learner-only silo and each count of rollout-only silos, every k. <see cref="LearnerBoundFrom"/>: per k, the fewest
/// rollout silos at which the learner is the bottleneck (mean idle share below <see cref="LearnerBoundIdle"/>), or null.
/// </summary>
public sealed record AsyncSimulatedBench(FixedAnswerCost Cost, string CostSource, int Steps, int WarmupSteps,
    int PromptsPerStep, int GroupSize, IReadOnlyList<AsyncRow> Rows, IReadOnlyDictionary<int, int?> LearnerBoundFrom,
    double LearnerBoundIdle, string? Chart, double LoadAverageBefore, double LoadAverageAfter);

/// <summary><c>grid bench --suite async</c>: what asynchronous GRPO-D (bounded staleness k) buys, real and simulated.</summary>
public sealed record AsyncBench(AsyncRealBench? Real, AsyncSimulatedBench? Simulated);

/// <summary>
/// Asynchronous GRPO-D with bounded staleness (<c>rollouts.max_staleness</c> k): with k &gt; 0 the controller starts the
/// groups of the next k steps with the newest weights while the learner updates, so generation and updates overlap.
/// Real: one learner-only and one rollout-only <c>grid silo</c> process on localhost clustering, each pinned to one
/// core with <c>taskset</c>, train the same run for each k; a step's time is wall time between the learner's
/// completion stamps. Simulated: the fixed-answer policy given a cost model (<see cref="FixedAnswerCost"/>: generation
/// seconds per token on each rollout silo's one-at-a-time engine, learner seconds per sample), by default the real
/// part's measured profile, on 1 learner-only silo and N rollout-only silos in this process.
/// </summary>
internal static class AsyncBenchmark
{
    /// <summary>The issue's target: k = 1 at least this many times k = 0's steps/s on the real two-silo run.</summary>
    public const double TargetStepsRatio = 1.5;

    /// <summary>A learner idle less than this share of its steps is the bottleneck.</summary>
    public const double LearnerBoundIdle = 0.1;

    /// <summary>
    /// Costs when no real part ran and none were given: the profile this bench measured on a 2-core machine (demo model,
    /// 8 prompts x 4, learner and rollout silo each pinned to one core, load average about 16; 2026-12-04).
    /// </summary>
    public static readonly FixedAnswerCost DefaultCost = new(GenerationSecondsPerToken: 0.00067, TokensPerCompletion: 38.8,
        LearnerSecondsPerSample: 0.0193);

    private static readonly TimeSpan SiloStartTimeout = TimeSpan.FromSeconds(120);

    /// <summary>What Orleans logs when a grain call got no response within its timeout (30 s by default).</summary>
    private const string TimeoutMarker = "Response did not arrive on time";

    /// <summary>
    /// The real part's settings layered under the user's --set: a short run without warm start or validation, with
    /// completions of 256 tokens. Overlap can at best hide the shorter of a step's generation and its update, so the gain
    /// is bounded by (generation + learner) / max(generation, learner): with the demo's 40 tokens a step generates in a
    /// third of the learner's time (bound 1.33x, measured 1.26-1.40x); at 256 tokens (the untrained policy writes them
    /// all) the two take about as long, as in LLM training, where generation dominates.
    /// </summary>
    public static string[] RealDefaults(int steps) =>
    [
        "name=\"bench-async\"", $"steps={steps}", "prompts_per_step=8", "group_size=4", "max_new_tokens=256", "sft.steps=0",
        "eval_every=0", $"checkpoint_every={steps}",
    ];

    public static AsyncRealBench RunReal(RunSettings settings, IReadOnlyList<int> ks, int warmupSteps, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(settings);
        string work = Directory.CreateTempSubdirectory("grid-bench-async-").FullName;
        var silos = new List<SiloProcess>();
        IHost? client = null;
        try
        {
            double loadBefore = BenchStatistics.LoadAverage();
            string? taskset = FindOnPath("taskset");
            bool pin = taskset is not null && Environment.ProcessorCount >= 2;
            string note = pin
                ? "learner silo pinned to core 0, rollout silo to core 1 (taskset -c)"
                : taskset is null ? "NOT pinned: taskset is not installed" : "NOT pinned: this process sees fewer than 2 cores";
            string clusterId = "bench-async-" + Guid.NewGuid().ToString("N")[..8];
            string[] common = ["silo", "--cluster", "localhost", "--storage", "memory", "--cluster-id", clusterId,
                "--weight-folder", Path.Combine(work, "weights"), "--dataset-cache", Path.Combine(work, "datasets"), "--metrics-port", "0"];
            int primary = Embedded.EmbeddedGrid.FreeLoopbackPort();
            int gateway = Embedded.EmbeddedGrid.FreeLoopbackPort();
            silos.Add(SiloProcess.Start("learner", pin ? [taskset!, "-c", "0"] : [],
                [.. common, "--role", "learner", "--allow-cpu-learner", "--silo-port", $"{primary}", "--gateway-port", $"{gateway}"], work));
            silos[0].WaitForReady(SiloStartTimeout);
            silos.Add(SiloProcess.Start("rollout", pin ? [taskset!, "-c", "1"] : [],
                [.. common, "--role", "rollout", "--primary-port", $"{primary}", "--silo-port", $"{Embedded.EmbeddedGrid.FreeLoopbackPort()}",
                    "--gateway-port", $"{Embedded.EmbeddedGrid.FreeLoopbackPort()}"], work));
            silos[1].WaitForReady(SiloStartTimeout);
            client = Cluster.ClusterClient.ConnectAsync(new GridClientOptions
            {
                Cluster = ClusterMode.Localhost,
                ClusterId = clusterId,
                GatewayPorts = [gateway],
            }, CancellationToken.None).GetAwaiter().GetResult();
            var grains = client.Services.GetRequiredService<IClusterClient>();
            BenchCluster.WaitForSilos(grains, 2);
            log($"async (real): 2 silo processes up ({note}); {ks.Count} runs of {settings.Steps} steps");

            var measured = new List<(int K, double[] Seconds, StepReport[] Reports)>();
            var timeouts = new Dictionary<int, int>();
            foreach (int k in ks)
            {
                int timeoutsBefore = silos.Sum(s => s.Count(TimeoutMarker));
                var run = settings with { Name = $"bench-async-k{k}", Rollouts = settings.Rollouts with { MaxStaleness = k } };
                RunSettingsValidator.Validate(run);
                try
                {
                    var (seconds, _, reports) = RunTimer.Run(grains, $"bench-async-k{k}-{Guid.NewGuid():N}",
                        new RunSpec(run, AllowCpuLearner: true), run.Steps, TimeSpan.FromMinutes(30), poll: TimeSpan.FromMilliseconds(250));
                    measured.Add((k, seconds, reports));
                    timeouts[k] = silos.Sum(s => s.Count(TimeoutMarker)) - timeoutsBefore;
                    log($"async (real): k = {k} done, {seconds.Skip(warmupSteps).Sum():F1} s over the timed steps");
                }
                catch (Exception e) when (e is BenchmarkFailedException or TimeoutException or SiloUnavailableException
                                             or OrleansMessageRejectionException)
                {
                    // A run that failed, or a silo that went away under it: what the two silo processes said last.
                    throw new BenchmarkFailedException($"The async bench's run with k = {k} did not complete: {e.Message}\n"
                        + string.Join("\n", silos.Select(s => s.Tail())), e);
                }
            }

            var rows = Rows(1, measured, warmupSteps).Select(r => r with { GrainCallTimeouts = timeouts[r.MaxStaleness] }).ToList();
            var baseline = measured.FirstOrDefault(m => m.K == 0);
            var profileSteps = (baseline.Reports ?? measured[0].Reports).Take(settings.Steps).Skip(warmupSteps).ToArray();
            double tokens = Math.Max(1, profileSteps.Sum(r => (double)r.TokensGenerated));
            double samples = Math.Max(1, profileSteps.Sum(r => (double)r.Samples));
            var profile = new FixedAnswerCost(profileSteps.Sum(r => r.SecondsRollout) / tokens, tokens / samples,
                profileSteps.Sum(r => r.SecondsUpdate) / samples);
            var m = settings.Model;
            return new AsyncRealBench($"d{m.DModel} x {m.Layers} layers, {m.Heads} heads", settings.Steps, warmupSteps,
                settings.PromptsPerStep, settings.GroupSize, settings.MaxNewTokens, pin, note, rows, TargetStepsRatio, profile,
                loadBefore, BenchStatistics.LoadAverage());
        }
        finally
        {
            if (client is not null)
            {
                client.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
                client.Dispose();
            }

            foreach (var silo in silos)
            {
                silo.Dispose();
            }

            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    public static AsyncSimulatedBench RunSimulated(FixedAnswerCost cost, string costSource, IReadOnlyList<int> rolloutSilos,
        IReadOnlyList<int> ks, int steps, int warmupSteps, int promptsPerStep, int groupSize, string outputDirectory,
        string? chartPath, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(cost);
        cost.Validate();
        double loadBefore = BenchStatistics.LoadAverage();
        var rows = new List<AsyncRow>();
        foreach (int n in rolloutSilos)
        {
            GridSiloRole[] roles = [GridSiloRole.Learner, .. Enumerable.Repeat(GridSiloRole.Rollout, n)];
            using var cluster = BenchCluster.Start(1 + n, new RolloutEngineOptions { Policy = RolloutPolicy.FixedAnswer }, roles, cost);
            var measured = new List<(int K, double[] Seconds, StepReport[] Reports)>();
            foreach (int k in ks)
            {
                var settings = RunSettingsLoader.Load("smoke", overrides:
                [
                    $"name=\"bench-async-sim-{n}-k{k}\"", $"steps={steps}", $"prompts_per_step={promptsPerStep}",
                    $"group_size={groupSize}", $"checkpoint_every={steps}", $"rollouts.max_staleness={k}",
                    $"output_directory={System.Text.Json.JsonSerializer.Serialize(outputDirectory)}",
                ]);
                var (seconds, _, reports) = RunTimer.Run(cluster.Grains, $"bench-async-sim-{n}-k{k}-{Guid.NewGuid():N}",
                    new RunSpec(settings, AllowCpuLearner: true), steps, TimeSpan.FromMinutes(30), poll: TimeSpan.FromMilliseconds(100));
                measured.Add((k, seconds, reports));
            }

            var these = Rows(n, measured, warmupSteps);
            rows.AddRange(these);
            log($"async (simulated): {n} rollout silos: "
                + string.Join(", ", these.Select(r => $"k = {r.MaxStaleness} {r.StepsPerSecond:F2} steps/s")));
        }

        var learnerBound = ks.ToDictionary(k => k, k => rows.Where(r => r.MaxStaleness == k && r.LearnerIdleFraction < LearnerBoundIdle)
            .Select(r => (int?)r.RolloutSilos).Min());
        string? chart = null;
        if (chartPath is not null)
        {
            chart = AsyncChart.Write(rows, ks, chartPath,
                $"Simulated async GRPO-D: {promptsPerStep} prompts x {groupSize} per step, 1 learner silo");
        }

        return new AsyncSimulatedBench(cost, costSource, steps, warmupSteps, promptsPerStep, groupSize, rows, learnerBound,
            LearnerBoundIdle, chart, loadBefore, BenchStatistics.LoadAverage());
    }

    /// <summary>The rows of one silo count, each k's throughput over k = 0's (the first k measured when 0 was not).</summary>
    private static List<AsyncRow> Rows(int rolloutSilos, List<(int K, double[] Seconds, StepReport[] Reports)> measured, int warmupSteps)
    {
        var rows = new List<AsyncRow>();
        foreach (var (k, seconds, reports) in measured)
        {
            var timed = reports.Take(seconds.Length).Skip(warmupSteps).ToArray();
            double wall = seconds.Skip(warmupSteps).Sum();
            int lags = timed.Select(r => r.StalenessGroups.Length).DefaultIfEmpty(0).Max();
            var staleness = Enumerable.Range(0, lags).Select(i => timed.Sum(r => i < r.StalenessGroups.Length ? r.StalenessGroups[i] : 0)).ToArray();
            rows.Add(new AsyncRow(rolloutSilos, k, timed.Length / wall, timed.Sum(r => (double)r.TokensGenerated) / wall, 0, 0,
                timed.Select(r => r.LearnerIdleFraction).DefaultIfEmpty(0).Average(), staleness, timed.Sum(r => r.DroppedStaleGroups),
                timed.Select(r => r.SecondsRollout).DefaultIfEmpty(0).Average(), timed.Select(r => r.SecondsUpdate).DefaultIfEmpty(0).Average(),
                [.. seconds.Skip(warmupSteps)]));
        }

        var baseline = rows.FirstOrDefault(r => r.MaxStaleness == 0) ?? rows[0];
        return [.. rows.Select(r => r with
        {
            StepsRatio = r.StepsPerSecond / baseline.StepsPerSecond,
            TokensRatio = baseline.TokensPerSecond > 0 ? r.TokensPerSecond / baseline.TokensPerSecond : 0,
        })];
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, name)).FirstOrDefault(File.Exists);

    /// <summary>A <c>grid silo</c> child process of this bench (this same grid), its output kept for errors.</summary>
    private sealed class SiloProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();

        private SiloProcess(string name, Process process)
        {
            Name = name;
            _process = process;
        }

        public string Name { get; }

        public static SiloProcess Start(string name, IReadOnlyList<string> launcher, IReadOnlyList<string> arguments, string folder)
        {
            // This grid: the apphost, or dotnet with grid.dll.
            string self = Environment.ProcessPath ?? "dotnet";
            bool viaDotnet = Path.GetFileNameWithoutExtension(self) == "dotnet";
            string[] command = [.. launcher, self, .. viaDotnet ? [typeof(AsyncBenchmark).Assembly.Location] : Array.Empty<string>(), .. arguments];
            var start = new ProcessStartInfo(command[0])
            {
                WorkingDirectory = folder,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string word in command.Skip(1))
            {
                start.ArgumentList.Add(word);
            }

            start.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
            start.Environment["NO_COLOR"] = "1";
            var process = Process.Start(start) ?? throw new BenchmarkFailedException($"Could not start the {name} silo: {string.Join(' ', command)}");
            var silo = new SiloProcess(name, process);
            process.OutputDataReceived += (_, line) => silo.Remember(line.Data);
            process.ErrorDataReceived += (_, line) => silo.Remember(line.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return silo;
        }

        public void WaitForReady(TimeSpan timeout)
        {
            var clock = Stopwatch.StartNew();
            while (!Output().Contains("grid silo ready", StringComparison.Ordinal))
            {
                if (_process.HasExited || clock.Elapsed > timeout)
                {
                    throw new BenchmarkFailedException($"The {Name} silo did not start ({(_process.HasExited ? $"exit {_process.ExitCode}" : "timeout")}):\n{Output()}");
                }

                Thread.Sleep(100);
            }
        }

        /// <summary>Lines of the output so far that contain <paramref name="text"/>.</summary>
        public int Count(string text) => Output().Split('\n').Count(line => line.Contains(text, StringComparison.Ordinal));

        public string Tail()
        {
            string text = Output();
            return $"--- {Name} silo (last lines) ---\n{(text.Length > 4000 ? text[^4000..] : text)}";
        }

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                    _process.WaitForExit(10_000);
                }
            }
            catch (InvalidOperationException)
            {
            }

            _process.Dispose();
        }

        private string Output()
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }

        private void Remember(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }
}
