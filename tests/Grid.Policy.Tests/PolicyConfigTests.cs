using Grid.Policy.Model;

namespace Grid.Policy.Tests;

public sealed class PolicyConfigTests
{
    [Fact]
    public void The_default_and_tiny_configs_are_valid()
    {
        Assert.Same(PolicyConfig.Default, PolicyConfig.Default.Validate());
        Assert.Equal(9, PolicyConfig.Default.PatchCount);
        Assert.Same(PolicyConfig.Tiny, PolicyConfig.Tiny.Validate());
    }

    [Theory]
    [InlineData(50, 8, 128, 4, 160, "ImageSize 50 is not a multiple of PatchSize 8")]
    [InlineData(48, 8, 130, 4, 160, "DModel 130 is not divisible by Heads 4")]
    [InlineData(48, 8, 128, 4, 30, "MaxSequenceLength 30 leaves no room for text after the 36 image patches")]
    public void An_impossible_config_is_refused_with_the_reason(
        int imageSize, int patchSize, int dModel, int heads, int maxSequenceLength, string reason)
    {
        var config = new PolicyConfig(ImageSize: imageSize, PatchSize: patchSize, DModel: dModel, Heads: heads,
            MaxSequenceLength: maxSequenceLength);

        var error = Assert.Throws<ArgumentException>(() => config.Validate());
        Assert.Contains(reason, error.Message);
    }

    [Theory]
    [InlineData(-1, 16, "StemChannels must be 0 (no stem) or positive, got -1")]
    [InlineData(8, 6, "With a convolutional stem the PatchSize must be a multiple of 4, got 6")]
    public void An_impossible_stem_is_refused_with_the_reason(int stemChannels, int patchSize, string reason)
    {
        var config = PolicyConfig.Tiny with { StemChannels = stemChannels, PatchSize = patchSize };

        var error = Assert.Throws<ArgumentException>(() => config.Validate());
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void A_stem_turns_each_patch_into_its_features_under_the_patch()
    {
        var config = PolicyConfig.Tiny with { StemChannels = 8 };

        Assert.Equal(9, config.PatchCount);
        Assert.Equal((16 / 4) * (16 / 4) * 8, config.PatchDimension);
    }

    [Fact]
    public void A_policy_cannot_be_built_from_an_impossible_config()
    {
        Assert.Throws<ArgumentException>(() => new VisionLanguagePolicy(PolicyConfig.Tiny with { Heads = 3 }));
    }
}
