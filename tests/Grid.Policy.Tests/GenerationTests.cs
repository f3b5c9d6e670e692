using Grid.Policy.Generation;
using Grid.Policy.Model;
using Grid.Policy.Tokenization;
using TorchSharp;
using static TorchSharp.torch;
using Generator = Grid.Policy.Generation.Generator;

namespace Grid.Policy.Tests;

public sealed class GenerationTests
{
    private static readonly GenerationRequest[] MixedLengths =
    [
        TestPolicies.Request("How many red objects?", imageSeed: 1, seed: 11),
        TestPolicies.Request("Find x.", imageSeed: 2, seed: 22),
        TestPolicies.Request("Angles 40 and 30. Find x.", imageSeed: 3, seed: 33),
    ];

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    public void Greedy_generation_with_the_kv_cache_equals_recomputing_the_whole_sequence_each_step(int stemChannels)
    {
        using var policy = TestPolicies.Tiny(stemChannels: stemChannels);
        var settings = new GenerationSettings(MaxNewTokens: 24, Greedy: true);

        var cached = Generator.Generate(policy, MixedLengths, settings);

        for (int i = 0; i < MixedLengths.Length; i++)
        {
            Assert.Equal(GreedyWithoutCache(policy, MixedLengths[i], settings.MaxNewTokens), cached[i].Tokens);
        }
    }

    [Fact]
    public void The_same_seed_gives_the_same_completion()
    {
        using var policy = TestPolicies.Tiny();
        var settings = new GenerationSettings(MaxNewTokens: 32, Temperature: 1.3);

        var first = Generator.Generate(policy, MixedLengths, settings);
        var second = Generator.Generate(policy, MixedLengths, settings);
        var otherSeed = Generator.Generate(policy, [MixedLengths[0] with { Seed = 12 }], settings);

        for (int i = 0; i < MixedLengths.Length; i++)
        {
            Assert.Equal(first[i].Tokens, second[i].Tokens);
            Assert.Equal(first[i].LogProbs, second[i].LogProbs);
        }

        Assert.NotEqual(first[0].Tokens, otherSeed[0].Tokens);
    }

    [Fact]
    public void A_request_gets_the_same_completion_alone_and_in_a_batch_with_other_prompt_lengths()
    {
        using var policy = TestPolicies.Tiny();
        var settings = new GenerationSettings(MaxNewTokens: 32, Temperature: 1.5, TopP: 0.95);
        var others = Enumerable.Range(0, 6)
            .Select(k => TestPolicies.Request(new string('?', k * 5) + "Count.", imageSeed: 10 + k, seed: (ulong)(100 + k)));

        var batched = Generator.Generate(policy, [.. others, .. MixedLengths], settings).TakeLast(MixedLengths.Length).ToArray();

        for (int i = 0; i < MixedLengths.Length; i++)
        {
            var alone = Generator.Generate(policy, [MixedLengths[i]], settings)[0];
            Assert.Equal(alone.Tokens, batched[i].Tokens);
            Assert.Equal(alone.EndedWithEos, batched[i].EndedWithEos);
            Assert.Equal(alone.LogProbs, batched[i].LogProbs, (a, b) => Math.Abs(a - b) < 1e-4);
        }
    }

    [Fact]
    public void Rows_that_end_early_leave_the_batch_without_changing_the_other_rows()
    {
        var settings = new GenerationSettings(MaxNewTokens: 60, Temperature: 1.2);
        var requests = Enumerable.Range(0, 12)
            .Select(k => TestPolicies.Request(new string('?', k), imageSeed: k, seed: (ulong)k)).ToArray();

        // Precondition: at least half the rows finish before the longest, so finished rows are dropped from the batch.
        // How many end early depends on the random weights (the global torch RNG is shared with tests running in
        // parallel), so the EOS boost goes up until they do.
        foreach (float boost in new[] { 3f, 4f, 5f, 6f, 8f })
        {
            using var policy = TestPolicies.Tiny().EndingEarly(boost);
            var batched = Generator.Generate(policy, requests, settings);
            var lengths = batched.Select(r => r.Tokens.Length).ToArray();
            if (lengths.Count(l => l < lengths.Max()) < requests.Length / 2)
            {
                continue;
            }

            for (int i = 0; i < requests.Length; i++)
            {
                Assert.Equal(Generator.Generate(policy, [requests[i]], settings)[0].Tokens, batched[i].Tokens);
            }

            return;
        }

        Assert.Fail("No EOS boost made half the rows end early; the batch never shrank, so nothing was tested.");
    }

    [Fact]
    public void Sampling_with_a_tiny_top_p_equals_greedy_decoding()
    {
        using var policy = TestPolicies.Tiny();

        var greedy = Generator.Generate(policy, MixedLengths, new GenerationSettings(MaxNewTokens: 24, Greedy: true));
        var nucleus = Generator.Generate(policy, MixedLengths, new GenerationSettings(MaxNewTokens: 24, Temperature: 1.7, TopP: 1e-6));

        for (int i = 0; i < MixedLengths.Length; i++)
        {
            Assert.Equal(greedy[i].Tokens, nucleus[i].Tokens);
        }
    }

    [Fact]
    public void A_completion_stops_at_eos_or_at_the_token_budget()
    {
        using var policy = TestPolicies.Tiny();

        var results = Generator.Generate(policy, MixedLengths, new GenerationSettings(MaxNewTokens: 40, Temperature: 2));

        Assert.All(results, r =>
        {
            Assert.Equal(r.Tokens.Length, r.LogProbs.Length);
            Assert.InRange(r.Tokens.Length, 1, 40);
            Assert.Equal(r.EndedWithEos, r.Tokens[^1] == Tokenizer.EosId);
            Assert.DoesNotContain(Tokenizer.EosId, r.Tokens[..^1]);
            Assert.True(r.EndedWithEos || r.Tokens.Length == 40);
            Assert.All(r.LogProbs, lp => Assert.InRange(lp, float.NegativeInfinity, 0f));
        });
    }

    [Theory]
    [InlineData(0, 1.0, 1.0)]
    [InlineData(8, 0.0, 1.0)]
    [InlineData(8, 1.0, 0.0)]
    [InlineData(8, 1.0, 1.5)]
    public void Impossible_settings_are_refused(int maxNewTokens, double temperature, double topP)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new GenerationSettings(maxNewTokens, temperature, topP));
    }

    private static int[] GreedyWithoutCache(VisionLanguagePolicy policy, GenerationRequest request, int maxNewTokens)
    {
        using var noGrad = no_grad();
        using var image = policy.ImagesToTensor([request.Image]);
        var tokens = request.PromptTokens.ToList();
        var completion = new List<int>();
        while (completion.Count < maxNewTokens)
        {
            using var scope = NewDisposeScope();
            var logits = policy.forward(image, tensor(tokens.Select(t => (long)t).ToArray(), [1, tokens.Count]));
            int next = (int)logits[0, -1].argmax().item<long>();
            completion.Add(next);
            tokens.Add(next);
            if (next == Tokenizer.EosId)
            {
                break;
            }
        }

        return [.. completion];
    }
}
