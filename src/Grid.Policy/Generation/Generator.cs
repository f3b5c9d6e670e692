using Grid.Policy.Model;
using Grid.Policy.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Policy.Generation;

/// <summary>
/// Batched sampling with a KV cache. Prompts of different lengths are left-padded between the image patches and
/// BOS (padding is masked out and text positions count per row), so each row computes what it would alone.
/// Sampling happens on the CPU from each row's probabilities with the row's own SplitMix64 seeded from its request,
/// so a request's completion does not depend on what else is in the batch. Runs synchronously under
/// inference_mode on the calling thread: never call it from inside an await-spanning scope.
/// </summary>
public static class Generator
{
    public static IReadOnlyList<GenerationResult> Generate(
        VisionLanguagePolicy policy, IReadOnlyList<GenerationRequest> requests, GenerationSettings settings) =>
        Generate(policy, requests, settings, stopAtEos: true);

    /// <summary>
    /// Samples from the policy's own distribution (temperature 1, top-p 1). The LogProbs it returns are the ones
    /// SequenceLogProbs.Compute gives for the same completions (up to float rounding), i.e. the sampling-time "old"
    /// log-probs of the importance ratio.
    /// </summary>
    public static IReadOnlyList<GenerationResult> SampleFromPolicy(
        VisionLanguagePolicy policy, IReadOnlyList<GenerationRequest> requests, int maxNewTokens) =>
        Generate(policy, requests, GenerationSettings.PolicyDistribution(maxNewTokens), stopAtEos: true);

    /// <summary><paramref name="stopAtEos"/> false keeps sampling past EOS (for throughput measurements).</summary>
    public static IReadOnlyList<GenerationResult> Generate(
        VisionLanguagePolicy policy, IReadOnlyList<GenerationRequest> requests, GenerationSettings settings, bool stopAtEos)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(settings);
        if (requests.Count == 0)
        {
            return [];
        }

        var config = policy.Config;
        int maxPrompt = 0;
        for (int i = 0; i < requests.Count; i++)
        {
            var prompt = requests[i]?.PromptTokens ?? throw new ArgumentException($"Request {i} or its prompt is null.", nameof(requests));
            if (prompt.Length == 0)
            {
                throw new ArgumentException($"Request {i} has an empty prompt; it must start with BOS.", nameof(requests));
            }

            Tokenizer.EnsureInVocabulary(prompt, config.VocabSize, $"The prompt of request {i}");
            maxPrompt = Math.Max(maxPrompt, prompt.Length);
        }

        if (maxPrompt + settings.MaxNewTokens > config.MaxTextLength)
        {
            throw new ArgumentException(
                $"A prompt of {maxPrompt} tokens + {settings.MaxNewTokens} new tokens exceeds the policy's room for text " +
                $"({config.MaxTextLength} = MaxSequenceLength {config.MaxSequenceLength} - {config.PatchCount} patches).");
        }

        bool wasTraining = policy.training;
        policy.eval();
        try
        {
            using var inference = inference_mode();
            using var scope = NewDisposeScope();
            return Sample(policy, requests, settings, maxPrompt, stopAtEos);
        }
        finally
        {
            policy.train(wasTraining);
        }
    }

    private static GenerationResult[] Sample(
        VisionLanguagePolicy policy, IReadOnlyList<GenerationRequest> requests, GenerationSettings settings,
        int maxPrompt, bool stopAtEos)
    {
        int batch = requests.Count, vocab = policy.Config.VocabSize;
        var tokens = new long[batch * maxPrompt];
        var positions = new long[batch * maxPrompt];
        var isReal = new bool[batch * maxPrompt];
        bool padded = false;
        for (int b = 0; b < batch; b++)
        {
            var prompt = requests[b].PromptTokens;
            int pad = maxPrompt - prompt.Length;
            padded |= pad > 0;
            for (int j = 0; j < maxPrompt; j++)
            {
                int index = (b * maxPrompt) + j;
                tokens[index] = j < pad ? Tokenizer.PadId : prompt[j - pad];
                positions[index] = Math.Max(0, j - pad);
                isReal[index] = j >= pad;
            }
        }

        var device = policy.Device;
        using var cache = policy.NewCache(batch, policy.Config.PatchCount + maxPrompt + settings.MaxNewTokens - 1);
        var images = policy.ImagesToTensor(requests.Select(r => r.Image).ToArray());
        var logits = policy.Prefill(
            images,
            tensor(tokens, [batch, maxPrompt], device: device),
            tensor(positions, [batch, maxPrompt], device: device),
            padded ? tensor(isReal, [batch, maxPrompt], device: device) : null,
            cache);

        var completions = Enumerable.Range(0, batch).Select(_ => new List<int>(settings.MaxNewTokens)).ToArray();
        var logProbs = Enumerable.Range(0, batch).Select(_ => new List<float>(settings.MaxNewTokens)).ToArray();
        var finished = new bool[batch];
        var rngs = requests.Select(r => new SplitMix64(r.Seed)).ToArray();
        var rowToRequest = Enumerable.Range(0, batch).ToArray(); // cache row -> request
        var scratch = new int[vocab];

        for (int step = 0; step < settings.MaxNewTokens; step++)
        {
            float[] rowLogProbs;
            using (var stepScope = NewDisposeScope())
            {
                var scaled = settings.Temperature == 1.0 ? logits : logits / settings.Temperature;
                rowLogProbs = scaled.to_type(ScalarType.Float32).log_softmax(-1).cpu().data<float>().ToArray();
            }

            logits.Dispose();
            for (int row = 0; row < rowToRequest.Length; row++)
            {
                int r = rowToRequest[row];
                if (finished[r])
                {
                    continue;
                }

                var distribution = rowLogProbs.AsSpan(row * vocab, vocab);
                int token = settings.Greedy
                    ? ArgMax(distribution)
                    : SampleTopP(distribution, settings.TopP, rngs[r].NextDouble(), scratch);
                completions[r].Add(token);
                logProbs[r].Add(distribution[token]);
                finished[r] = stopAtEos && token == Tokenizer.EosId;
            }

            if (step == settings.MaxNewTokens - 1 || finished.All(f => f))
            {
                break;
            }

            // Drop finished rows from the batch once they are at least half of it: fewer rows, cheaper steps.
            int live = rowToRequest.Count(r => !finished[r]);
            if (live <= rowToRequest.Length / 2)
            {
                var keep = Enumerable.Range(0, rowToRequest.Length).Where(row => !finished[rowToRequest[row]]).ToArray();
                cache.KeepRows(keep.Select(row => (long)row).ToArray());
                rowToRequest = keep.Select(row => rowToRequest[row]).ToArray();
            }

            var nextTokens = new long[rowToRequest.Length];
            var nextPositions = new long[rowToRequest.Length];
            for (int row = 0; row < rowToRequest.Length; row++)
            {
                int r = rowToRequest[row];
                nextTokens[row] = finished[r] ? Tokenizer.PadId : completions[r][^1];
                nextPositions[row] = requests[r].PromptTokens.Length + step;
            }

            using var stepTokens = tensor(nextTokens, device: device);
            using var stepPositions = tensor(nextPositions, device: device);
            logits = policy.DecodeStep(stepTokens, stepPositions, cache);
        }

        return Enumerable.Range(0, batch)
            .Select(r => new GenerationResult(
                [.. completions[r]], [.. logProbs[r]], completions[r].Count > 0 && completions[r][^1] == Tokenizer.EosId && stopAtEos))
            .ToArray();
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
