using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Grid.Policy.Checkpoints;
using Grid.TestSupport;

namespace Grid.Policy.Tests;

/// <summary>
/// Checkpoint folders a user can point at that once crashed, read outside the folder or read past the file: each is
/// refused with an <see cref="InvalidDataException"/> (or a not-found) naming the file and the problem. The weights'
/// sha256 is recomputed after each mutation, so the check under test is the one that refuses it.
/// </summary>
public sealed class PolicyCheckpointHostileTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("grid-checkpoint-hostile-").FullName;
    private readonly string _directory;

    public PolicyCheckpointHostileTests()
    {
        _directory = Path.Combine(_root, "checkpoint");
        using var policy = TestPolicies.Tiny();
        PolicyCheckpoint.Save(policy, policy.Config, _directory);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData("../model.safetensors")]
    [InlineData("/etc/hostname")]
    [InlineData("sub/model.safetensors")]
    [InlineData("..")]
    public void A_weights_file_outside_the_folder_is_refused_before_it_is_read(string weightsFile)
    {
        File.Copy(Path.Combine(_directory, "model.safetensors"), Path.Combine(_root, "model.safetensors"));
        EditManifest(m => m["WeightsFile"] = weightsFile);

        var e = Assert.Throws<InvalidDataException>(() => PolicyCheckpoint.Load(_directory));

        Assert.Contains($"\"{weightsFile}\"", e.Message);
        Assert.Contains("not a plain file name inside the folder", e.Message);
    }

    [Fact]
    public void A_weights_file_that_is_a_symbolic_link_out_of_the_folder_is_refused()
    {
        string outside = Path.Combine(_root, "elsewhere.safetensors");
        string weights = Path.Combine(_directory, "model.safetensors");
        File.Move(weights, outside);
        File.CreateSymbolicLink(weights, outside);

        var e = Assert.Throws<InvalidDataException>(() => PolicyCheckpoint.Load(_directory));

        Assert.Contains("symbolic link", e.Message);
        Assert.Contains(outside, e.Message);
    }

    [Fact]
    public void A_symbolic_link_inside_the_folder_is_followed()
    {
        string weights = Path.Combine(_directory, "model.safetensors");
        File.Move(weights, Path.Combine(_directory, "real.bin"));
        File.CreateSymbolicLink(weights, "real.bin");

        var (policy, _) = PolicyCheckpoint.Load(_directory);

        policy.Dispose();
    }

    [Fact]
    public void A_header_length_past_the_file_is_refused()
    {
        EditWeights(w => BinaryPrimitives.WriteUInt64LittleEndian(w, ulong.MaxValue - 3));

        Assert.Contains("header claims", Assert.Throws<InvalidDataException>(() => PolicyCheckpoint.Load(_directory)).Message);
    }

    [Fact]
    public void Offsets_past_the_data_are_refused_naming_the_tensor()
    {
        EditHeader((index, tensor) => tensor["data_offsets"]![1] = index == 0 ? 1L << 40 : tensor["data_offsets"]![1]!.DeepClone());

        var e = Assert.Throws<InvalidDataException>(() => PolicyCheckpoint.Load(_directory));

        Assert.Contains("data_offsets", e.Message);
        Assert.Contains("not a readable safetensors file", e.Message);
    }

    [Fact]
    public void Overlapping_tensors_are_refused()
    {
        EditHeader((index, tensor) =>
        {
            if (index == 1)
            {
                long length = (long)tensor["data_offsets"]![1]! - (long)tensor["data_offsets"]![0]!;
                tensor["data_offsets"] = new JsonArray(0, length);
            }
        });

        Assert.Contains("overlaps", Assert.Throws<InvalidDataException>(() => PolicyCheckpoint.Load(_directory)).Message);
    }

    [Fact]
    public void A_wrong_dtype_is_refused_naming_the_tensor()
    {
        EditHeader((index, tensor) => tensor["dtype"] = index == 0 ? "F16" : tensor["dtype"]!.DeepClone());

        Assert.Contains("is stored as F16", Assert.Throws<InvalidDataException>(() => PolicyCheckpoint.Load(_directory)).Message);
    }

    [Fact]
    public void An_impossible_shape_is_refused_naming_the_tensor()
    {
        EditHeader((index, tensor) => tensor["shape"] = index == 0 ? new JsonArray(-1, 1L << 62) : tensor["shape"]!.DeepClone());

        Assert.Contains("has shape [-1,", Assert.Throws<InvalidDataException>(() => PolicyCheckpoint.Load(_directory)).Message);
    }

    [Fact]
    public void A_header_that_is_not_json_or_misses_fields_is_refused()
    {
        EditHeader((index, tensor) => tensor.Remove("data_offsets"));

        Assert.Contains("no dtype string, shape array and data_offsets pair",
            Assert.Throws<InvalidDataException>(() => PolicyCheckpoint.Load(_directory)).Message);
    }

    [Fact]
    public void A_weights_file_of_another_size_than_recorded_is_refused_unread()
    {
        EditManifest(m => m["WeightsBytes"] = long.MaxValue);

        Assert.Contains("records", Assert.Throws<InvalidDataException>(() => PolicyCheckpoint.Load(_directory)).Message);
    }

    [Theory]
    [InlineData("DModel", 1 << 20)]
    [InlineData("Layers", 100000)]
    [InlineData("VocabSize", int.MaxValue)]
    [InlineData("Heads", 0)]
    public void A_config_describing_a_policy_too_large_or_impossible_is_refused_before_allocating(string field, int value)
    {
        EditManifest(m => m["Config"]![field] = value);
        File.Delete(Path.Combine(_directory, PolicyCheckpoint.ConfigFileName));

        var e = Assert.Throws<InvalidDataException>(() => PolicyCheckpoint.Load(_directory));

        Assert.Contains("describes a policy this program does not load", e.Message);
    }

    [Fact]
    public void A_garbage_manifest_or_config_is_refused_naming_the_file()
    {
        File.WriteAllText(Path.Combine(_directory, PolicyCheckpoint.ConfigFileName), "[1,");
        Assert.Contains("config.json", Assert.Throws<InvalidDataException>(() => PolicyCheckpoint.Load(_directory)).Message);

        File.WriteAllBytes(Path.Combine(_directory, PolicyCheckpoint.ManifestFileName), [0xFF, 0x00, 0x12]);
        Assert.Contains("is not a checkpoint manifest", Assert.Throws<InvalidDataException>(() => PolicyCheckpoint.Load(_directory)).Message);
    }

    [Fact]
    public void A_file_or_a_missing_folder_given_as_the_checkpoint_is_refused()
    {
        string file = Path.Combine(_directory, PolicyCheckpoint.WeightsFileName);

        Assert.Contains("is a file", Assert.Throws<InvalidDataException>(() => PolicyCheckpoint.Load(file)).Message);
        Assert.Throws<DirectoryNotFoundException>(() => PolicyCheckpoint.Load(Path.Combine(_root, "nope")));
    }

    private void EditManifest(Action<JsonObject> edit)
    {
        string path = Path.Combine(_directory, PolicyCheckpoint.ManifestFileName);
        var manifest = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(manifest);
        File.WriteAllText(path, manifest.ToJsonString());
    }

    private void EditWeights(Action<byte[]> edit)
    {
        string path = Path.Combine(_directory, PolicyCheckpoint.WeightsFileName);
        byte[] weights = File.ReadAllBytes(path);
        edit(weights);
        WriteWeights(weights);
    }

    /// <summary>Rewrites the header with <paramref name="edit"/> applied to the first two tensors, then rehashes.</summary>
    private void EditHeader(Action<int, JsonObject> edit) => WriteWeights(HostileFiles.EditSafetensorsHeader(
        File.ReadAllBytes(Path.Combine(_directory, PolicyCheckpoint.WeightsFileName)), edit));

    /// <summary>Writes the weights and records their size and sha256, so only the mutation itself is wrong.</summary>
    private void WriteWeights(byte[] weights)
    {
        File.WriteAllBytes(Path.Combine(_directory, PolicyCheckpoint.WeightsFileName), weights);
        EditManifest(m =>
        {
            m["WeightsSha256"] = PolicyCheckpoint.Sha256Hex(weights);
            m["WeightsBytes"] = weights.LongLength;
        });
    }
}
