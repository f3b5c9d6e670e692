using Grid.Policy.Generation;
using Grid.Policy.Model;
using Grid.Policy.Prompting;
using Grid.Tasks.Images;

namespace Grid.Policy.Tests;

/// <summary>Small fixtures shared by the tests: a tiny policy, noise images, prompts.</summary>
internal static class TestPolicies
{
    public static VisionLanguagePolicy Tiny(long seed = 7) => new(PolicyConfig.Tiny, seed);

    public static RgbImage NoiseImage(int seed, int size = 48)
    {
        var pixels = new byte[size * size * 3];
        new Random(seed).NextBytes(pixels);
        return new RgbImage(size, size, pixels);
    }

    public static GenerationRequest Request(string question, int imageSeed, ulong seed) =>
        new(NoiseImage(imageSeed), PromptFormat.EncodePrompt(question), seed);
}
