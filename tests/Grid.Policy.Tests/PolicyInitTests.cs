using Grid.Policy.Checkpoints;
using Grid.Policy.Model;
using static TorchSharp.torch;

namespace Grid.Policy.Tests;

/// <summary>A policy's initial weights depend on its seed alone, not on what else drew from torch's global generator.</summary>
public sealed class PolicyInitTests
{
    [Fact]
    public void The_same_seed_gives_the_same_weights_whatever_the_global_generator_did_in_between()
    {
        manual_seed(1);
        using var first = new VisionLanguagePolicy(PolicyConfig.Tiny, seed: 5);
        manual_seed(2);
        using (rand(1000)) // other work (another test, another grain) drawing from the shared generator
        {
        }

        using var second = new VisionLanguagePolicy(PolicyConfig.Tiny, seed: 5);

        var differing = first.state_dict().Where(p => !p.Value.equal(second.state_dict()[p.Key]).all().item<bool>()).Select(p => p.Key).ToArray();
        Assert.Empty(differing);
        Assert.Equal(PolicyCheckpoint.SerializeWeights(first), PolicyCheckpoint.SerializeWeights(second));
        using var biases = first.named_parameters().Where(p => p.name.EndsWith(".bias", StringComparison.Ordinal)
            && !p.name.Contains("norm", StringComparison.Ordinal)).Select(p => p.parameter.abs().sum()).Aggregate((a, b) => a + b);
        Assert.Equal(0f, biases.item<float>());
    }
}
