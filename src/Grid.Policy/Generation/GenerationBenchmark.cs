using System.Diagnostics;
using Grid.Policy.Model;
using Grid.Policy.Prompting;
using Grid.Tasks.Images;

namespace Grid.Policy.Generation;

/// <summary>Generation throughput at one batch size: completion tokens produced per second of wall time.</summary>
public sealed record GenerationThroughput(int BatchSize, int NewTokensPerRow, double Seconds, double TokensPerSecond);

/// <summary>
/// A small throughput measurement (not a test): generates <c>newTokens</c> tokens per row for a batch of typical
/// prompts, ignoring EOS so every row runs the full length, and reports tokens per second (prefill included).
/// </summary>
public static class GenerationBenchmark
{
    public static IReadOnlyList<GenerationThroughput> Measure(
        VisionLanguagePolicy policy, IReadOnlyList<int> batchSizes, int newTokens = 48, int repeats = 3)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(batchSizes);
        var settings = new GenerationSettings(newTokens);
        var results = new List<GenerationThroughput>();
        Generator.Generate(policy, Requests(policy.Config, 2), settings, stopAtEos: false); // warm up
        foreach (int batchSize in batchSizes)
        {
            var requests = Requests(policy.Config, batchSize);
            var best = double.MaxValue;
            for (int r = 0; r < repeats; r++)
            {
                var clock = Stopwatch.StartNew();
                Generator.Generate(policy, requests, settings, stopAtEos: false);
                best = Math.Min(best, clock.Elapsed.TotalSeconds);
            }

            results.Add(new GenerationThroughput(batchSize, newTokens, best, batchSize * newTokens / best));
        }

        return results;
    }

    private static GenerationRequest[] Requests(PolicyConfig config, int count)
    {
        string[] questions = ["How many red objects?", "Angles 40 and 30. Find x.", "Which shape is largest?"];
        var random = new Random(1);
        return Enumerable.Range(0, count).Select(i =>
        {
            var pixels = new byte[config.ImageSize * config.ImageSize * 3];
            random.NextBytes(pixels);
            return new GenerationRequest(new RgbImage(config.ImageSize, config.ImageSize, pixels),
                PromptFormat.EncodePrompt(questions[i % questions.Length]), (ulong)i);
        }).ToArray();
    }
}
