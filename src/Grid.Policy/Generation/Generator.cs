using Grid.Policy.Model;
using Grid.Policy.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Policy.Generation;

/// <summary>
/// Batched sampling with a KV cache: one <see cref="ContinuousBatch"/> that admits every request at once. Prompts of
/// different lengths are left-padded between the image patches and BOS (padding is masked out and text positions
/// count per row), so each row computes what it would alone. Sampling happens on the CPU from each row's
/// probabilities with the row's own SplitMix64 seeded from its request, so a request's completion does not depend on
/// what else is in the batch. Runs synchronously under inference_mode on the calling thread: never call it from
/// inside an await-spanning scope.
/// </summary>
public static class Generator
{
    public static IReadOnlyList<GenerationResult> Generate(
        PolicyModel policy, IReadOnlyList<GenerationRequest> requests, GenerationSettings settings) =>
        Generate(policy, requests, settings, stopAtEos: true);

    /// <summary>
    /// Samples from the policy's own distribution (temperature 1, top-p 1). The LogProbs it returns are the ones
    /// SequenceLogProbs.Compute gives for the same completions (up to float rounding), i.e. the sampling-time "old"
    /// log-probs of the importance ratio.
    /// </summary>
    public static IReadOnlyList<GenerationResult> SampleFromPolicy(
        PolicyModel policy, IReadOnlyList<GenerationRequest> requests, int maxNewTokens) =>
        Generate(policy, requests, GenerationSettings.PolicyDistribution(maxNewTokens), stopAtEos: true);

    /// <summary><paramref name="stopAtEos"/> false keeps sampling past EOS (for throughput measurements).</summary>
    public static IReadOnlyList<GenerationResult> Generate(
        PolicyModel policy, IReadOnlyList<GenerationRequest> requests, GenerationSettings settings, bool stopAtEos)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(settings);
        if (requests.Count == 0)
        {
            return [];
        }

        bool wasTraining = policy.training;
        policy.eval();
        try
        {
            var results = new GenerationResult[requests.Count];
            using var batch = new ContinuousBatch(policy, settings, requests.Count, stopAtEos);
            batch.Admit(requests, results);
            while (!batch.IsEmpty)
            {
                foreach (var done in batch.Step())
                {
                    results[done.Index] = done.Result;
                }
            }

            return results;
        }
        finally
        {
            policy.train(wasTraining);
        }
    }

    /// <summary>The first most likely token (ties go to the lower id, as in the top-p order).</summary>
    internal static int ArgMax(ReadOnlySpan<float> logProbs)
    {
        int best = 0;
        for (int i = 1; i < logProbs.Length; i++)
        {
            if (logProbs[i] > logProbs[best])
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>
    /// Draws a token with uniform <paramref name="u"/> in [0, 1) from the nucleus: tokens by decreasing probability
    /// (ties by id) up to and including the first at which the cumulative probability reaches topP, renormalised.
    /// </summary>
    internal static int SampleTopP(ReadOnlySpan<float> logProbs, double topP, double u, int[] scratch)
    {
        var order = scratch.AsSpan(0, logProbs.Length);
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        int kept = order.Length;
        double total = 0;
        if (topP < 1)
        {
            var values = logProbs.ToArray();
            order.Sort((a, b) => values[a] != values[b] ? values[b].CompareTo(values[a]) : a.CompareTo(b));
            for (int k = 0; k < order.Length; k++)
            {
                total += Math.Exp(logProbs[order[k]]);
                if (total >= topP)
                {
                    kept = k + 1;
                    break;
                }
            }
        }
        else
        {
            foreach (float lp in logProbs)
            {
                total += Math.Exp(lp);
            }
        }

        double target = u * total, cumulative = 0;
        for (int k = 0; k < kept; k++)
        {
            cumulative += Math.Exp(logProbs[order[k]]);
            if (target < cumulative)
            {
                return order[k];
            }
        }

        return order[kept - 1]; // rounding left the target just past the last kept token
    }
}
