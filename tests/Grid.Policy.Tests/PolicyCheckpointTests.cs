using System.Text.Json;
using Grid.Policy.Checkpoints;
using Grid.Policy.Generation;
using Grid.Policy.Model;

namespace Grid.Policy.Tests;

public sealed class PolicyCheckpointTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "grid-policy-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    public void A_saved_checkpoint_loads_back_bit_exact(int stemChannels)
    {
        using var policy = TestPolicies.Tiny(seed: 3, stemChannels: stemChannels);

        string sha256 = PolicyCheckpoint.Save(policy, policy.Config, _directory);
        var (loaded, config) = PolicyCheckpoint.Load(_directory);

        using (loaded)
        {
            Assert.Equal(policy.Config, config);
            AssertSameWeights(policy, loaded);
            Assert.Equal(sha256, PolicyCheckpoint.ReadSha256(_directory));
            Assert.Equal(sha256, PolicyCheckpoint.Sha256Hex(File.ReadAllBytes(Path.Combine(_directory, "model.safetensors"))));
            Assert.Equal(["checkpoint.json", "config.json", "model.safetensors"],
                Directory.GetFiles(_directory).Select(Path.GetFileName).Order());
        }
    }

    [Fact]
    public void A_tampered_weights_file_is_refused_naming_its_sha256()
    {
        using var policy = TestPolicies.Tiny();
        PolicyCheckpoint.Save(policy, policy.Config, _directory);
        string weights = Path.Combine(_directory, "model.safetensors");
        byte[] bytes = File.ReadAllBytes(weights);
        bytes[^10] ^= 0x01;
        File.WriteAllBytes(weights, bytes);

        var error = Assert.Throws<InvalidDataException>(() => PolicyCheckpoint.Load(_directory));

        Assert.Contains("sha256", error.Message);
        Assert.Contains("model.safetensors", error.Message);
        Assert.Contains(PolicyCheckpoint.ReadSha256(_directory), error.Message);
        Assert.Contains("tampered", error.Message);
    }

    [Fact]
    public void A_config_that_disagrees_with_the_weights_is_refused_naming_the_tensor_and_shapes()
    {
        using var policy = TestPolicies.Tiny();
        PolicyCheckpoint.Save(policy, policy.Config, _directory);
        var manifest = PolicyCheckpoint.ReadManifest(_directory);
        var wrong = manifest.Config with { DModel = 64 };
        File.WriteAllText(Path.Combine(_directory, "checkpoint.json"), JsonSerializer.Serialize(manifest with { Config = wrong }));
        File.WriteAllText(Path.Combine(_directory, "config.json"), JsonSerializer.Serialize(wrong));

        var error = Assert.Throws<InvalidDataException>(() => PolicyCheckpoint.Load(_directory));

        Assert.Matches(@"Tensor '[\w.]+': the config .* expects shape \[[\d, ]*64[\d, ]*\], but the weights hold shape \[[\d, ]*32[\d, ]*\]",
            error.Message);
    }

    [Fact]
    public void Copying_weights_in_memory_makes_a_rollout_copy_generate_like_the_learner()
    {
        using var learner = TestPolicies.Tiny(seed: 1);
        using var rollout = TestPolicies.Tiny(seed: 2);
        using var fromBytes = TestPolicies.Tiny(seed: 3);
        var request = TestPolicies.Request("Find x.", imageSeed: 1, seed: 9);
        var settings = new GenerationSettings(MaxNewTokens: 16);

        PolicyCheckpoint.CopyWeights(learner, rollout);
        PolicyCheckpoint.LoadWeights(fromBytes, PolicyCheckpoint.SerializeWeights(learner));

        AssertSameWeights(learner, rollout);
        AssertSameWeights(learner, fromBytes);
        Assert.Equal(Generator.Generate(learner, [request], settings)[0].Tokens, Generator.Generate(rollout, [request], settings)[0].Tokens);
    }

    private static void AssertSameWeights(VisionLanguagePolicy expected, VisionLanguagePolicy actual)
    {
        var actualState = actual.state_dict();
        Assert.Equal(expected.state_dict().Keys, actualState.Keys);
        foreach (var (name, tensor) in expected.state_dict())
        {
            Assert.True(tensor.data<float>().ToArray().AsSpan().SequenceEqual(actualState[name].data<float>().ToArray()), name);
        }
    }
}
