using System.Diagnostics;
using Grid.Core;
using Grid.Grains.Rollouts;
using Grid.Hosting.Weights;
using Grid.Policy.Checkpoints;
using Grid.Policy.Generation;
using Grid.Policy.Model;
using Grid.Policy.Prompting;
using Grid.Tasks;
using Grid.Training.Benchmarks;
using Grid.Training.Rollouts;
using Microsoft.Extensions.Logging.Abstractions;

namespace Grid.Cli.Benchmarks;

/// <summary>
/// Tokens/s of G groups sharing a silo's rollout engine and of one raw batched generator call of the same rows; and,
/// for the same groups arriving one by one over about one batch's time, the engine with continuous batching
/// (groups join the decoding batch) against the engine that makes them wait until the batch drains.
/// </summary>
public sealed record RolloutEngineBench(int Groups, int GroupSize, int MaxNewTokens, double RawTokensPerSecond,
    double EngineTokensPerSecond, double Ratio, double MedianPairedRatio, double LoadAverageBefore, double LoadAverageAfter,
    double StaggerMilliseconds, double ContinuousTokensPerSecond, double DrainTokensPerSecond,
    double ContinuousMeanLatencySeconds, double DrainMeanLatencySeconds)
{
    /// <summary>Continuous batching's tokens/s over waiting for the batch to drain (staggered arrivals).</summary>
    public double ContinuousSpeedup => ContinuousTokensPerSecond / DrainTokensPerSecond;
}

/// <summary>
/// The rollout engine against the raw batched <see cref="Generator"/>: the same G x groupSize requests (same prompts,
/// same seeds, so the same tokens), once as one <c>Generator.Generate</c> call on this thread and once as G group
/// requests submitted concurrently to a <see cref="RolloutEngine"/> (as prompt-group grains do), which batches them
/// on its own thread after loading the weights from a weight store. Raw and engine runs alternate so both see the
/// same machine; tokens/s are medians. Call on a thread that owns torch work.
/// </summary>
internal static class RolloutEngineBenchmark
{
    public static RolloutEngineBench Run(PolicyConfig config, int groups, int groupSize, int maxNewTokens, int repeats, long seed)
    {
        string folder = Directory.CreateTempSubdirectory("grid-bench-engine-").FullName;
        try
        {
            using var policy = new VisionLanguagePolicy(config, seed);
            var store = new LocalFolderWeightStore(folder);
            var weights = store.PublishAsync("bench-engine", 0, PolicyCheckpoint.SerializeWeights(policy)).GetAwaiter().GetResult();
            var settings = new GenerationSettings(maxNewTokens);
            var task = TaskCatalog.Get("geometry");
            var source = new PromptSource(seed);
            var perGroup = Enumerable.Range(0, groups).Select(p =>
            {
                var prompt = source.ForStep(task, 0, p, groups);
                var tokens = PromptFormat.EncodePrompt(prompt.Question);
                return Enumerable.Range(0, groupSize)
                    .Select(g => new GenerationRequest(prompt.Image, tokens, SamplingSeed.For(seed, 0, p, g))).ToArray();
            }).ToArray();
            var all = perGroup.SelectMany(g => g).ToArray();

            double loadBefore = BenchStatistics.LoadAverage();
            using var engine = new RolloutEngine(store, new RolloutEngineOptions { MaxBatchSize = Math.Max(256, all.Length) },
                NullLogger<RolloutEngine>.Instance);
            Raw(policy, all, settings); // warm-up
            Engine(engine, weights, config, settings, perGroup); // warm-up, and the engine's weight load
            var raw = new List<double>();
            var shared = new List<double>();
            for (int r = 0; r < repeats; r++)
            {
                raw.Add(Raw(policy, all, settings));
                shared.Add(Engine(engine, weights, config, settings, perGroup));
            }

            double rawMedian = BenchStatistics.Median(raw), engineMedian = BenchStatistics.Median(shared);
            // Each engine run over the raw run just before it: load changes between repeats cancel out of these.
            double paired = BenchStatistics.Median(shared.Select((e, i) => e / raw[i]));
            double loadAfter = BenchStatistics.LoadAverage();

            // Staggered arrivals: one group every (one raw batch's time / groups), so the last arrives about when a
            // batch opened by the first would end.
            var stagger = TimeSpan.FromSeconds(all.Length * maxNewTokens / rawMedian / groups);
            using var drain = new RolloutEngine(store, new RolloutEngineOptions { MaxBatchSize = Math.Max(256, all.Length), JoinMidDecode = false },
                NullLogger<RolloutEngine>.Instance);
            Staggered(drain, weights, config, settings, perGroup, stagger); // warm-up and weight load
            var continuous = new List<(double TokensPerSecond, double Latency)>();
            var drained = new List<(double TokensPerSecond, double Latency)>();
            for (int r = 0; r < repeats; r++)
            {
                continuous.Add(Staggered(engine, weights, config, settings, perGroup, stagger));
                drained.Add(Staggered(drain, weights, config, settings, perGroup, stagger));
            }

            return new RolloutEngineBench(groups, groupSize, maxNewTokens, rawMedian, engineMedian, engineMedian / rawMedian,
                paired, loadBefore, loadAfter, stagger.TotalMilliseconds,
                BenchStatistics.Median(continuous.Select(c => c.TokensPerSecond)), BenchStatistics.Median(drained.Select(c => c.TokensPerSecond)),
                BenchStatistics.Median(continuous.Select(c => c.Latency)), BenchStatistics.Median(drained.Select(c => c.Latency)));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static double Raw(VisionLanguagePolicy policy, GenerationRequest[] requests, GenerationSettings settings)
    {
        var clock = Stopwatch.StartNew();
        var results = Generator.Generate(policy, requests, settings);
        return results.Sum(x => x.Tokens.Length) / clock.Elapsed.TotalSeconds;
    }

    /// <summary>Submits the groups one per <paramref name="stagger"/>; tokens/s over the whole, and mean seconds from a group's submission to its completions.</summary>
    private static (double TokensPerSecond, double MeanLatency) Staggered(RolloutEngine engine, WeightReference weights,
        PolicyConfig config, GenerationSettings settings, GenerationRequest[][] perGroup, TimeSpan stagger)
    {
        var clock = Stopwatch.StartNew();
        var latencies = new double[perGroup.Length];
        var pending = new Task<IReadOnlyList<GenerationResult>>[perGroup.Length];
        for (int p = 0; p < perGroup.Length; p++)
        {
            while (clock.Elapsed < stagger * p)
            {
                Thread.Sleep(1);
            }

            int group = p;
            var submitted = clock.Elapsed;
            pending[p] = engine.GenerateAsync(new RolloutRequest("bench-engine", weights, config, settings, perGroup[p]))
                .ContinueWith(t =>
                {
                    latencies[group] = (clock.Elapsed - submitted).TotalSeconds;
                    return t.Result;
                }, TaskScheduler.Default);
        }

        var results = Task.WhenAll(pending).GetAwaiter().GetResult();
        return (results.Sum(group => group.Sum(x => x.Tokens.Length)) / clock.Elapsed.TotalSeconds, latencies.Average());
    }

    private static double Engine(RolloutEngine engine, WeightReference weights, PolicyConfig config,
        GenerationSettings settings, GenerationRequest[][] perGroup)
    {
        var clock = Stopwatch.StartNew();
        var pending = perGroup.Select(requests => Task.Run(() =>
            engine.GenerateAsync(new RolloutRequest("bench-engine", weights, config, settings, requests)))).ToArray();
        var results = Task.WhenAll(pending).GetAwaiter().GetResult();
        return results.Sum(group => group.Sum(x => x.Tokens.Length)) / clock.Elapsed.TotalSeconds;
    }
}
