using System.Diagnostics;
using Grid.Learning.Objective;
using Grid.Policy.Generation;
using Grid.Policy.Model;
using Grid.Policy.Prompting;
using Grid.Tasks;
using Grid.Tasks.Rewards;
using Grid.Training.Learner;
using Grid.Training.Rollouts;

namespace Grid.Training.Benchmarks;

/// <summary>Generation throughput at one batch size, and its share of the machine's fp32 GEMM peak.</summary>
public sealed record GenerationBench(int BatchSize, double TokensPerSecond, double Gflops, double FractionOfGemmPeak);

/// <summary>One learner update on a batch of completions, and its share of the GEMM peak.</summary>
public sealed record LearnerBench(int Completions, int CompletionTokens, double SecondsPerStep, double Gflops, double FractionOfGemmPeak);

/// <summary>The policy benchmarks of <c>grid bench</c>, all measured in one run against that run's GEMM peak.</summary>
public sealed record PolicyBenchReport(string Model, long Parameters, double GemmGflops,
    IReadOnlyList<GenerationBench> Generation, LearnerBench Learner);

/// <summary>
/// Measures generation tokens/s with the KV cache at several batch sizes and one GRPO-D learner step, each as a
/// median of several runs and as a fraction of the fp32 GEMM FLOP/s measured in the same run (model FLOPs counted
/// from its shapes, <see cref="ModelFlops"/>). Synchronous: run it on a thread that owns the torch work.
/// </summary>
public static class PolicyBenchmark
{
    public static PolicyBenchReport Run(PolicyConfig config, IReadOnlyList<int> batchSizes, int learnerBatch = 64,
        int completionTokens = 40, int repeats = 5, long seed = 1)
    {
        using var policy = new VisionLanguagePolicy(config, seed);
        double gemm = GemmPeak.MeasureGflops();
        var task = TaskCatalog.Get("counting");
        var generation = batchSizes.Select(b => MeasureGeneration(policy, task, b, completionTokens, repeats, gemm)).ToArray();
        var learner = MeasureLearner(policy, config, task, learnerBatch, completionTokens, repeats, gemm);
        return new PolicyBenchReport($"d{config.DModel} x {config.Layers} layers, {config.Heads} heads, {config.PatchCount} patches",
            policy.ParameterCount, gemm, generation, learner);
    }

    private static GenerationBench MeasureGeneration(VisionLanguagePolicy policy, IVisualTask task, int batch,
        int newTokens, int repeats, double gemm)
    {
        var requests = Enumerable.Range(0, batch).Select(i =>
        {
            var example = task.Generate(7, i);
            return new GenerationRequest(example.Image, PromptFormat.EncodePrompt(example.Question), (ulong)i);
        }).ToArray();
        var settings = new GenerationSettings(newTokens);
        Generator.Generate(policy, requests, settings, stopAtEos: false); // warm-up
        var rates = new List<double>();
        var flops = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            var clock = Stopwatch.StartNew();
            // Past EOS too: an untrained policy ends rows at random, which would measure prefill, not decoding.
            var results = Generator.Generate(policy, requests, settings, stopAtEos: false);
            double seconds = clock.Elapsed.TotalSeconds;
            rates.Add(results.Sum(x => x.Tokens.Length) / seconds);
            flops.Add(results.Select((x, i) => ModelFlops.Generation(policy.Config, requests[i].PromptTokens.Length, x.Tokens.Length)).Sum() / seconds);
        }

        double gflops = BenchStatistics.Median(flops) / 1e9;
        return new GenerationBench(batch, BenchStatistics.Median(rates), gflops, gflops / gemm);
    }

    private static LearnerBench MeasureLearner(VisionLanguagePolicy policy, PolicyConfig config, IVisualTask task,
        int completions, int completionTokens, int repeats, double gemm)
    {
        var random = new Random(3);
        const int groupSize = 8;
        var groups = Enumerable.Range(0, Math.Max(1, completions / groupSize)).Select(p =>
        {
            var example = task.Generate(11, p);
            var rollouts = Enumerable.Range(0, groupSize).Select(_ =>
            {
                var tokens = Enumerable.Range(0, completionTokens).Select(_ => random.Next(8, config.VocabSize)).ToArray();
                return new Rollout(tokens, new float[tokens.Length], "", new Reward(0, 0, 0));
            }).ToArray();
            var advantages = Enumerable.Range(0, groupSize).Select(_ => random.NextDouble() - 0.5).ToArray();
            return new ScoredGroup(0, p, example, PromptFormat.EncodePrompt(example.Question), rollouts, advantages);
        }).ToArray();

        using var reference = PolicyRuntime.FrozenCopy(policy, config);
        using var learner = new GrpoLearner(policy, reference, new GrpoLossSettings { MaxCompletionLength = completionTokens },
            learningRate: 1e-5, weightDecay: 0, maxGradNorm: 1.0);
        learner.Update(groups, beta: 0.04); // warm-up
        var seconds = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            var clock = Stopwatch.StartNew();
            learner.Update(groups, beta: 0.04);
            seconds.Add(clock.Elapsed.TotalSeconds);
        }

        double median = BenchStatistics.Median(seconds);
        double flops = groups.Sum(g => g.Rollouts.Count * ModelFlops.LearnerStep(config, g.PromptTokens.Length, completionTokens));
        double gflops = flops / median / 1e9;
        return new LearnerBench(groups.Sum(g => g.Rollouts.Count), completionTokens, median, gflops, gflops / gemm);
    }
}
