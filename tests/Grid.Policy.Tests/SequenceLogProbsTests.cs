using Grid.Policy.Generation;
using Grid.Policy.Prompting;
using Grid.Policy.Scoring;
using Grid.Policy.Tokenization;
using TorchSharp;
using static TorchSharp.torch;
using Generator = Grid.Policy.Generation.Generator;

namespace Grid.Policy.Tests;

public sealed class SequenceLogProbsTests
{
    [Fact]
    public void Log_probs_of_sampled_completions_equal_their_sampling_log_probs_at_temperature_one()
    {
        using var policy = TestPolicies.Tiny();
        GenerationRequest[] requests =
        [
            TestPolicies.Request("How many red objects?", imageSeed: 1, seed: 5),
            TestPolicies.Request("Find x.", imageSeed: 2, seed: 6),
            TestPolicies.Request("Angles 40 and 30. Find x.", imageSeed: 3, seed: 7),
            TestPolicies.Request("?", imageSeed: 4, seed: 8),
        ];
        var sampled = Generator.SampleFromPolicy(policy, requests, 40);

        using var scores = SequenceLogProbs.Compute(policy, requests.Select(r => r.Image).ToArray(),
            requests.Select(r => r.PromptTokens).ToArray(), sampled.Select(s => s.Tokens).ToArray());

        var logProbs = ToRows(scores.LogProbs);
        for (int i = 0; i < requests.Length; i++)
        {
            for (int j = 0; j < sampled[i].Tokens.Length; j++)
            {
                Assert.Equal(sampled[i].LogProbs[j], logProbs[i][j], 1e-4f);
            }
        }

        Assert.True(scores.LogProbs.requires_grad);
    }

    [Fact]
    public void Sampling_log_probs_are_taken_at_the_temperature_before_top_p_filtering()
    {
        using var policy = TestPolicies.Tiny();
        GenerationRequest[] requests =
        [
            TestPolicies.Request("How many red objects?", imageSeed: 1, seed: 5),
            TestPolicies.Request("Find x.", imageSeed: 2, seed: 6),
        ];
        var sampled = Generator.Generate(policy, requests, new GenerationSettings(MaxNewTokens: 30, Temperature: 0.7, TopP: 0.9));

        using var scores = SequenceLogProbs.Compute(policy, requests.Select(r => r.Image).ToArray(),
            requests.Select(r => r.PromptTokens).ToArray(), sampled.Select(s => s.Tokens).ToArray(), temperature: 0.7);

        var logProbs = ToRows(scores.LogProbs);
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(sampled[i].LogProbs, logProbs[i].Take(sampled[i].Tokens.Length), (a, b) => Math.Abs(a - b) < 1e-4);
        }
    }

    [Fact]
    public void Token_ids_outside_the_vocabulary_are_refused()
    {
        using var policy = TestPolicies.Tiny();

        var error = Assert.Throws<ArgumentException>(() => SequenceLogProbs.Compute(policy, [TestPolicies.NoiseImage(1)],
            [PromptFormat.EncodePrompt("Find x.")], [[20, 500, Tokenizer.EosId]]));

        Assert.Contains("token id 500 at index 1", error.Message);
    }

    [Fact]
    public void The_mask_covers_exactly_the_completion_tokens_through_the_first_eos()
    {
        using var policy = TestPolicies.Tiny();
        int eos = Tokenizer.EosId;
        int[] prompt = PromptFormat.EncodePrompt("Find x.");
        int[][] completions =
        [
            [.. Tokenizer.Default.Encode("<answer>7</answer>"), eos], // 3 tokens + EOS
            [.. Tokenizer.Default.Encode("12"), eos, 30, 31], // stops at EOS
            [.. Tokenizer.Default.Encode("<think>1")], // no EOS: every token counts
        ];

        using var scores = SequenceLogProbs.Compute(policy, [.. Enumerable.Range(0, 3).Select(k => TestPolicies.NoiseImage(k))],
            [prompt, PromptFormat.EncodePrompt("Angles 40 and 30. Find x."), [Tokenizer.BosId]], completions);

        Assert.Equal(new long[] { 3, 4 }, scores.Mask.shape);
        Assert.Equal(
            [[1f, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]],
            ToRows(scores.Mask));
        Assert.Equal([4, 3, 2], scores.Lengths);
        var logProbs = ToRows(scores.LogProbs);
        var entropy = ToRows(scores.Entropy);
        Assert.Equal(0f, logProbs[1][3]);
        Assert.True(logProbs[1][2] < 0);
        Assert.True(entropy[0][0] > 0);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    public void Gradients_flow_from_the_log_probs_to_the_weights(int stemChannels)
    {
        using var policy = TestPolicies.Tiny(stemChannels: stemChannels);

        using var scores = SequenceLogProbs.Compute(policy, [TestPolicies.NoiseImage(1)],
            [PromptFormat.EncodePrompt("Find x.")], [PromptFormat.EncodeCompletion("<answer>3</answer>")]);
        scores.LogProbs.sum().backward();

        Assert.All(policy.parameters(), p => Assert.NotNull(p.grad));
    }

    private static float[][] ToRows(Tensor t)
    {
        var values = t.detach().cpu().data<float>().ToArray();
        int columns = (int)t.shape[1];
        return Enumerable.Range(0, (int)t.shape[0]).Select(r => values[(r * columns)..((r + 1) * columns)]).ToArray();
    }
}
