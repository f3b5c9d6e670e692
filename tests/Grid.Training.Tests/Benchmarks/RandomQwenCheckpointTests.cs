using Grid.Policy.Qwen;
using Grid.Training.Benchmarks;
using static TorchSharp.torch;

namespace Grid.Training.Tests.Benchmarks;

/// <summary>
/// The random Hugging Face checkpoint the qwen benchmark loads: a folder HuggingFaceCheckpoint reads as it reads the
/// hub's, with the weights' intended statistics, and a completeness check that refuses a damaged or different folder.
/// </summary>
/// <remarks>
/// Alone in its collection, run with nothing else: listing the tensors builds the network on torch's meta device, and
/// torch's default device is process-wide, so a policy built on another test's thread meanwhile landed on meta.
/// </remarks>
[Collection(nameof(TorchDefaultDeviceCollection))]
public sealed class RandomQwenCheckpointTests : IDisposable
{
    private static readonly string TinyFolder = LocateTiny();
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"grid-random-qwen-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    [Fact]
    public void A_written_folder_loads_as_a_policy_with_unit_norms_and_weights_of_std_0_02()
    {
        string config = File.ReadAllText(Path.Combine(TinyFolder, "config.json"));
        RandomQwenCheckpoint.Write(_folder, config, SideFiles(), shardBytes: 4 << 20, seed: 7);

        using var model = HuggingFaceCheckpoint.LoadPolicy(_folder);
        var weights = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.True(weights["model.norm.weight"].eq(1).all().item<bool>());
        Assert.True(weights["visual.blocks.0.norm1.bias"].eq(0).all().item<bool>());
        var embedding = weights["model.embed_tokens.weight"];
        Assert.InRange(embedding.std().item<float>(), 0.0198, 0.0202);
        Assert.InRange(embedding.mean().item<float>(), -2e-4, 2e-4);
        Assert.True(Directory.GetFiles(_folder, "model-*.safetensors").Length > 1, "4 MB shards split the tiny model's 10 MB of weights");
    }

    [Fact]
    public void The_same_seed_writes_the_same_weights()
    {
        string config = File.ReadAllText(Path.Combine(TinyFolder, "config.json"));
        string second = _folder + "-second";
        try
        {
            RandomQwenCheckpoint.Write(_folder, config, SideFiles(), shardBytes: 1L << 30, seed: 3);
            RandomQwenCheckpoint.Write(second, config, SideFiles(), shardBytes: 1L << 30, seed: 3);
            Assert.Equal(File.ReadAllBytes(Path.Combine(_folder, "model-00001-of-00001.safetensors")),
                File.ReadAllBytes(Path.Combine(second, "model-00001-of-00001.safetensors")));
        }
        finally
        {
            Directory.Delete(second, recursive: true);
        }
    }

    [Fact]
    public void A_folder_is_complete_only_with_its_config_and_every_shard_at_its_written_size()
    {
        string config = File.ReadAllText(Path.Combine(TinyFolder, "config.json"));
        Assert.False(RandomQwenCheckpoint.IsComplete(_folder, config));
        RandomQwenCheckpoint.Write(_folder, config, SideFiles(), shardBytes: 4 << 20, seed: 7);
        Assert.True(RandomQwenCheckpoint.IsComplete(_folder, config));
        Assert.False(RandomQwenCheckpoint.IsComplete(_folder, config.Replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3", StringComparison.Ordinal)));

        string shard = Directory.GetFiles(_folder, "model-*.safetensors")[0];
        using (var stream = new FileStream(shard, FileMode.Open))
        {
            stream.SetLength(stream.Length - 2);
        }

        Assert.False(RandomQwenCheckpoint.IsComplete(_folder, config));
    }

    [Fact]
    public void The_tensor_list_names_every_weight_of_the_model_with_its_shape()
    {
        var config = QwenVLConfig.Load(Path.Combine(TinyFolder, "config.json"));
        var listed = RandomQwenCheckpoint.TensorsOf(config);
        using var model = new QwenVLModel(config);
        Assert.Equal(model.named_parameters().Select(p => (p.name, string.Join("x", p.parameter.shape))),
            listed.Select(t => (t.Name, string.Join("x", t.Shape))));
    }

    private static Dictionary<string, byte[]> SideFiles() =>
        new[] { "tokenizer.json", "tokenizer_config.json", "preprocessor_config.json", "generation_config.json" }
            .ToDictionary(name => name, name => File.ReadAllBytes(Path.Combine(TinyFolder, name)));

    private static string LocateTiny()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Grid.sln")))
            {
                return Path.Combine(dir.FullName, "tests", "Grid.Policy.Tests", "TestData", "Qwen", "qwen2_vl_tiny");
            }
        }

        throw new DirectoryNotFoundException($"No Grid.sln above {AppContext.BaseDirectory}: the tiny Qwen checkpoint is found from the repository root.");
    }
}

/// <summary>Tests that change torch's process-wide default device: they run when no other test runs.</summary>
[CollectionDefinition(nameof(TorchDefaultDeviceCollection), DisableParallelization = true)]
public sealed class TorchDefaultDeviceCollection;
