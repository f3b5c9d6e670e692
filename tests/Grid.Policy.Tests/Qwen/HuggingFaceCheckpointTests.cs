using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Grid.Policy.Qwen;
using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Policy.Tests.Qwen;

public sealed class HuggingFaceCheckpointTests : IDisposable
{
    private const string Shard1 = "model-00001-of-00002.safetensors";
    private const string Shard2 = "model-00002-of-00002.safetensors";
    private readonly string _root = Directory.CreateTempSubdirectory("grid-qwen-checkpoint-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void A_single_file_tied_checkpoint_loads_every_tensor_and_has_no_lm_head()
    {
        var checkpoint = QwenReference.Checkpoint(QwenReference.Qwen2VL);
        string file = Path.Combine(QwenReference.CheckpointFolder(QwenReference.Qwen2VL), "model.safetensors");
        var keys = QwenCheckpointFiles.Header(file).Select(p => p.Key).Where(k => k != "__metadata__").Order().ToList();

        var names = checkpoint.Model.named_parameters().Select(p => p.name).Order().ToList();

        Assert.Equal(keys, names);
        Assert.DoesNotContain("lm_head.weight", names);
        Assert.All(checkpoint.SourceDTypes.Values, dtype => Assert.Equal("BF16", dtype));
    }

    [Fact]
    public void A_sharded_untied_checkpoint_loads_both_shards_and_its_lm_head()
    {
        var checkpoint = QwenReference.Checkpoint(QwenReference.Qwen25VL);
        string folder = QwenReference.CheckpointFolder(QwenReference.Qwen25VL);
        var keys = new[] { Shard1, Shard2 }.SelectMany(f => QwenCheckpointFiles.Header(Path.Combine(folder, f)))
            .Select(p => p.Key).Where(k => k != "__metadata__").Order().ToList();

        var names = checkpoint.Model.named_parameters().Select(p => p.name).Order().ToList();

        Assert.Equal(keys, names);
        Assert.Contains("lm_head.weight", names);
        Assert.Equal(keys.Count, checkpoint.SourceDTypes.Count);
    }

    [Theory]
    [InlineData(QwenReference.Qwen2VL, "model.embed_tokens.weight")]
    [InlineData(QwenReference.Qwen2VL, "visual.patch_embed.proj.weight")]
    [InlineData(QwenReference.Qwen25VL, "lm_head.weight")]
    [InlineData(QwenReference.Qwen25VL, "visual.blocks.3.mlp.down_proj.bias")]
    [InlineData(QwenReference.Qwen25VL, "visual.merger.mlp.0.weight")]
    public void Loaded_weights_are_the_files_bfloat16_values_widened_exactly(string family, string key)
    {
        string folder = QwenReference.CheckpointFolder(family);
        string path = Path.Combine(folder, QwenCheckpointFiles.FileOf(folder, key));
        var header = QwenCheckpointFiles.Header(path);
        var offsets = header[key]!["data_offsets"]!.AsArray().Select(o => o!.GetValue<long>()).ToArray();
        var bytes = File.ReadAllBytes(path);
        long dataStart = 8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var expected = new float[(offsets[1] - offsets[0]) / 2];
        for (int i = 0; i < expected.Length; i++)
        {
            ushort bits = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan((int)(dataStart + offsets[0] + (2 * i))));
            expected[i] = BitConverter.Int32BitsToSingle(bits << 16);
        }

        var parameter = QwenReference.Checkpoint(family).Model.named_parameters().Single(p => p.name == key).parameter;

        Assert.Equal(expected, parameter.detach().contiguous().data<float>().ToArray());
    }

    [Fact]
    public void A_truncated_shard_is_refused_naming_the_file_and_the_tensor_past_its_end()
    {
        string folder = QwenCheckpointFiles.CopyOf(QwenReference.Qwen25VL, _root);
        string shard = Path.Combine(folder, Shard2);
        var lastTensor = QwenCheckpointFiles.Header(shard).Where(p => p.Key != "__metadata__")
            .MaxBy(p => p.Value!["data_offsets"]![1]!.GetValue<long>()).Key;
        using (var stream = new FileStream(shard, FileMode.Open))
        {
            stream.SetLength(stream.Length - 100);
        }

        var e = Assert.Throws<InvalidDataException>(() => HuggingFaceCheckpoint.Load(folder));

        Assert.Contains(shard, e.Message);
        Assert.Contains($"'{lastTensor}'", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void A_missing_shard_is_refused_naming_it()
    {
        string folder = QwenCheckpointFiles.CopyOf(QwenReference.Qwen25VL, _root);
        File.Delete(Path.Combine(folder, Shard1));

        var e = Assert.Throws<FileNotFoundException>(() => HuggingFaceCheckpoint.Load(folder));

        Assert.Contains($"Shard '{Shard1}'", e.Message);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void A_tensor_of_the_wrong_shape_is_refused_with_both_shapes()
    {
        string folder = QwenCheckpointFiles.CopyOf(QwenReference.Qwen2VL, _root);
        string file = Path.Combine(folder, "model.safetensors");
        QwenCheckpointFiles.EditHeader(file, h => h["visual.merger.mlp.2.bias"]!["shape"] = new JsonArray(2, 16));

        var e = Assert.Throws<InvalidDataException>(() => HuggingFaceCheckpoint.Load(folder));

        Assert.Contains($"Tensor 'visual.merger.mlp.2.bias' in '{file}' has shape [2, 16]; the config builds [32]", e.Message);
    }

    [Fact]
    public void A_tensor_of_an_unsupported_dtype_is_refused_naming_it()
    {
        string folder = QwenCheckpointFiles.CopyOf(QwenReference.Qwen2VL, _root);
        string file = Path.Combine(folder, "model.safetensors");
        QwenCheckpointFiles.EditHeader(file, h => h["model.norm.weight"]!["dtype"] = "I16");

        var e = Assert.Throws<InvalidDataException>(() => HuggingFaceCheckpoint.Load(folder));

        Assert.Contains($"Tensor 'model.norm.weight' in '{file}'", e.Message);
        Assert.Contains("dtype I16 is not supported", e.Message);
    }

    [Fact]
    public void A_dtype_whose_size_disagrees_with_the_bytes_is_refused()
    {
        string folder = QwenCheckpointFiles.CopyOf(QwenReference.Qwen2VL, _root);
        string file = Path.Combine(folder, "model.safetensors");
        QwenCheckpointFiles.EditHeader(file, h => h["model.norm.weight"]!["dtype"] = "F32");

        var e = Assert.Throws<InvalidDataException>(() => HuggingFaceCheckpoint.Load(folder));

        Assert.Contains($"Tensor 'model.norm.weight' in '{file}'", e.Message);
        Assert.Contains("F32 [32] needs 128", e.Message);
    }

    [Fact]
    public void An_unknown_key_is_refused_naming_it_and_its_shard()
    {
        string folder = QwenCheckpointFiles.CopyOf(QwenReference.Qwen25VL, _root);
        string file = QwenCheckpointFiles.FileOf(folder, "visual.merger.mlp.2.bias");
        QwenCheckpointFiles.RenameTensor(folder, file, "visual.merger.mlp.2.bias", "visual.merger.mlp.3.bias");

        var e = Assert.Throws<InvalidDataException>(() => HuggingFaceCheckpoint.Load(folder));

        Assert.Contains($"Tensor 'visual.merger.mlp.3.bias' in '{Path.Combine(folder, file)}' is not a weight of this model", e.Message);
    }

    [Fact]
    public void An_lm_head_in_a_tied_checkpoint_is_refused_as_unknown()
    {
        string folder = QwenCheckpointFiles.CopyOf(QwenReference.Qwen2VL, _root);
        QwenCheckpointFiles.RenameTensor(folder, "model.safetensors", "model.embed_tokens.weight", "lm_head.weight");

        var e = Assert.Throws<InvalidDataException>(() => HuggingFaceCheckpoint.Load(folder));

        Assert.Contains("'lm_head.weight'", e.Message);
        Assert.Contains("ties the word embeddings", e.Message);
    }

    [Fact]
    public void A_missing_key_is_refused_naming_it()
    {
        string folder = QwenCheckpointFiles.CopyOf(QwenReference.Qwen2VL, _root);
        QwenCheckpointFiles.EditHeader(Path.Combine(folder, "model.safetensors"), h => h.Remove("model.layers.1.mlp.up_proj.weight"));

        var e = Assert.Throws<InvalidDataException>(() => HuggingFaceCheckpoint.Load(folder));

        Assert.Contains("lack 1 tensors the config builds: model.layers.1.mlp.up_proj.weight", e.Message);
    }

    [Fact]
    public void A_tensor_the_index_does_not_list_is_refused()
    {
        string folder = QwenCheckpointFiles.CopyOf(QwenReference.Qwen25VL, _root);
        string index = Path.Combine(folder, "model.safetensors.index.json");
        var root = JsonNode.Parse(File.ReadAllText(index))!.AsObject();
        root["weight_map"]!.AsObject().Remove("model.norm.weight");
        File.WriteAllText(index, root.ToJsonString());

        var e = Assert.Throws<InvalidDataException>(() => HuggingFaceCheckpoint.Load(folder));

        Assert.Contains("Tensor 'model.norm.weight'", e.Message);
        Assert.Contains("maps it to no shard", e.Message);
    }

    [Theory]
    [InlineData(QwenReference.Qwen2VL)]
    [InlineData(QwenReference.Qwen25VL)]
    public void Save_then_load_gives_bit_identical_weights(string family)
    {
        var source = QwenReference.Checkpoint(family);
        string output = Path.Combine(_root, "saved");

        HuggingFaceCheckpoint.Save(source.Model, QwenReference.CheckpointFolder(family), output);
        var reloaded = HuggingFaceCheckpoint.Load(output);

        var before = source.Model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in reloaded.Model.named_parameters())
        {
            Assert.Equal(Bits(before[name]), Bits(parameter));
        }

        Assert.Equal(before.Count, reloaded.Model.named_parameters().Count());
        reloaded.Model.Dispose();
    }

    [Theory]
    [InlineData(QwenReference.Qwen2VL)]
    [InlineData(QwenReference.Qwen25VL)]
    public void A_saved_folder_has_the_sources_files_keys_shapes_and_dtypes(string family)
    {
        string source = QwenReference.CheckpointFolder(family);
        string output = Path.Combine(_root, "saved");

        HuggingFaceCheckpoint.Save(QwenReference.Checkpoint(family).Model, source, output);

        Assert.Equal(
            Directory.EnumerateFiles(source).Select(Path.GetFileName).Order(),
            Directory.EnumerateFiles(output).Select(Path.GetFileName).Order());
        foreach (string file in Directory.EnumerateFiles(source, "*.safetensors"))
        {
            var expected = Entries(file);
            var actual = Entries(Path.Combine(output, Path.GetFileName(file)));
            Assert.Equal(expected, actual);
        }

        foreach (string name in new[] { "config.json", "tokenizer.json", "tokenizer_config.json", "preprocessor_config.json",
                     "generation_config.json" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(source, name)), File.ReadAllBytes(Path.Combine(output, name)));
        }

        string index = Path.Combine(source, "model.safetensors.index.json");
        if (File.Exists(index))
        {
            Assert.Equal(
                JsonNode.Parse(File.ReadAllText(index))!["weight_map"]!.AsObject().Select(p => (p.Key, p.Value!.GetValue<string>())).Order(),
                JsonNode.Parse(File.ReadAllText(Path.Combine(output, "model.safetensors.index.json")))!["weight_map"]!.AsObject()
                    .Select(p => (p.Key, p.Value!.GetValue<string>())).Order());
        }
    }

    [Fact]
    public void Changed_weights_are_saved_rounded_to_bfloat16_as_torch_rounds_them()
    {
        using var scope = NewDisposeScope();
        string source = QwenReference.CheckpointFolder(QwenReference.Qwen2VL);
        var model = HuggingFaceCheckpoint.Load(source).Model;
        var norm = model.named_parameters().Single(p => p.name == "model.norm.weight").parameter;
        using (no_grad())
        {
            norm.add_(linspace(-0.01, 0.01, norm.shape[0]));
        }

        string output = Path.Combine(_root, "changed");
        HuggingFaceCheckpoint.Save(model, source, output);
        var reloaded = HuggingFaceCheckpoint.Load(output).Model;

        var saved = reloaded.named_parameters().Single(p => p.name == "model.norm.weight").parameter;
        Assert.Equal(Bits(norm.detach().to(ScalarType.BFloat16).to(ScalarType.Float32)), Bits(saved));
        model.Dispose();
        reloaded.Dispose();
    }

    [Fact]
    public void A_float32_checkpoint_loads_the_same_weights_and_saves_back_as_float32()
    {
        string folder = QwenCheckpointFiles.CopyOf(QwenReference.Qwen2VL, _root);
        QwenCheckpointFiles.WidenToFloat32(Path.Combine(folder, "model.safetensors"));

        var widened = HuggingFaceCheckpoint.Load(folder);
        string output = Path.Combine(_root, "saved");
        HuggingFaceCheckpoint.Save(widened.Model, folder, output);

        Assert.All(widened.SourceDTypes.Values, dtype => Assert.Equal("F32", dtype));
        var original = QwenReference.Checkpoint(QwenReference.Qwen2VL).Model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in widened.Model.named_parameters())
        {
            Assert.Equal(Bits(original[name]), Bits(parameter));
        }

        using var reloaded = HuggingFaceCheckpoint.Load(output).Model;
        Assert.All(reloaded.named_parameters(), p => Assert.Equal(Bits(original[p.name]), Bits(p.parameter)));
        Assert.All(QwenCheckpointFiles.Header(Path.Combine(output, "model.safetensors")).Where(p => p.Key != "__metadata__"),
            p => Assert.Equal("F32", p.Value!["dtype"]!.GetValue<string>()));
        widened.Model.Dispose();
    }

    [Fact]
    public void Newer_transformers_key_names_load_and_save_back_under_the_same_names()
    {
        string folder = QwenCheckpointFiles.CopyOf(QwenReference.Qwen2VL, _root);
        QwenCheckpointFiles.UseNestedKeyLayout(Path.Combine(folder, "model.safetensors"));

        var nested = HuggingFaceCheckpoint.Load(folder);
        string output = Path.Combine(_root, "saved");
        HuggingFaceCheckpoint.Save(nested.Model, folder, output);

        var original = QwenReference.Checkpoint(QwenReference.Qwen2VL).Model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in nested.Model.named_parameters())
        {
            Assert.Equal(Bits(original[name]), Bits(parameter));
        }

        Assert.Contains("model.language_model.layers.0.self_attn.q_proj.bias", nested.SourceDTypes.Keys);
        Assert.Contains("model.visual.merger.ln_q.weight", nested.SourceDTypes.Keys);
        Assert.Equal(Entries(Path.Combine(folder, "model.safetensors")), Entries(Path.Combine(output, "model.safetensors")));
        nested.Model.Dispose();
    }

    [Fact]
    public void A_model_loaded_inside_a_dispose_scope_outlives_the_scope()
    {
        QwenVLModel model;
        using (NewDisposeScope())
        {
            model = HuggingFaceCheckpoint.Load(QwenReference.CheckpointFolder(QwenReference.Qwen25VL)).Model;
        }

        using var scope = NewDisposeScope();
        var hidden = model.HiddenStates(tensor(new long[] { 1, 2, 3 }, [1, 3]), zeros([3, 1, 3], ScalarType.Int64));

        Assert.Equal([1, 3, 32], hidden.shape);
        Assert.True(model.parameters().All(p => !p.IsInvalid));
        model.Dispose();
    }

    private static int[] Bits(Tensor t) =>
        t.detach().contiguous().data<float>().ToArray().Select(BitConverter.SingleToInt32Bits).ToArray();

    private static List<(string Key, string DType, string Shape)> Entries(string file) =>
        QwenCheckpointFiles.Header(file).Where(p => p.Key != "__metadata__")
            .Select(p => (p.Key, p.Value!["dtype"]!.GetValue<string>(), p.Value["shape"]!.ToJsonString()))
            .OrderBy(e => e.Key, StringComparer.Ordinal).ToList();
}
