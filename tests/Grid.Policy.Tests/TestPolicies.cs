using Grid.Policy.Generation;
using Grid.Policy.Model;
using Grid.Policy.Prompting;
using Grid.Tasks.Images;
using static TorchSharp.torch;

namespace Grid.Policy.Tests;

/// <summary>Small fixtures shared by the tests: a tiny policy, noise images, prompts.</summary>
internal static class TestPolicies
{
    /// <summary>
    /// A tiny policy whose weights are scaled up 5x: at initialisation a policy is nearly uniform and ignores its
    /// context (greedy decoding repeats one token), which would let cache, padding and position bugs pass unseen.
    /// <paramref name="stemChannels"/> &gt; 0 puts a convolutional stem in front of the patch embedding.
    /// </summary>
    public static VisionLanguagePolicy Tiny(long seed = 7, int stemChannels = 0)
    {
        var policy = new VisionLanguagePolicy(PolicyConfig.Tiny with { StemChannels = stemChannels }, seed);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in policy.named_parameters())
        {
            if (!name.Contains("norm") && !name.EndsWith(".bias"))
            {
                parameter.mul_(5);
            }
        }

        return policy;
    }

    /// <summary>Raises the EOS logit by about <paramref name="boost"/> everywhere (through the final norm's bias), so
    /// completions end early and at different steps.</summary>
    public static VisionLanguagePolicy EndingEarly(this VisionLanguagePolicy policy, float boost)
    {
        using var noGrad = no_grad();
        var state = policy.state_dict();
        state["final_norm.bias"][0] += 1f;
        state["lm_head.weight"][Grid.Policy.Tokenization.Tokenizer.EosId, 0] += boost;
        return policy;
    }

    public static RgbImage NoiseImage(int seed, int size = 48)
    {
        var pixels = new byte[size * size * 3];
        new Random(seed).NextBytes(pixels);
        return new RgbImage(size, size, pixels);
    }

    public static GenerationRequest Request(string question, int imageSeed, ulong seed) =>
        new(NoiseImage(imageSeed), PromptFormat.EncodePrompt(question), seed);
}
