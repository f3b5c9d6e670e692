using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Grid.Policy.Model;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Grid.Policy.Checkpoints;

/// <summary>
/// A policy on disk: model.safetensors (the weights, Hugging Face format), config.json (the shape) and
/// checkpoint.json (the shape again plus the weights' sha256), each written to a temporary name and renamed, the
/// manifest last, so a crash never leaves a half file under a real name. Loading checks the hash and that every
/// tensor's name and shape is what the config builds. Also the in-memory paths for syncing a rollout copy.
/// </summary>
public static class PolicyCheckpoint
{
    public const string WeightsFileName = "model.safetensors";
    public const string ConfigFileName = "config.json";
    public const string ManifestFileName = "checkpoint.json";
    private const int FormatVersion = 1;

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Writes the checkpoint into <paramref name="directory"/> (created if needed) and returns the weights' sha256.</summary>
    public static string Save(VisionLanguagePolicy policy, PolicyConfig config, string directory)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (policy.Config != config)
        {
            throw new ArgumentException(
                $"The config to save ({config}) is not the policy's own ({policy.Config}); the weights would not match it.",
                nameof(config));
        }

        Directory.CreateDirectory(directory);
        byte[] weights = SerializeWeights(policy);
        string sha256 = Sha256Hex(weights);
        WriteAtomically(Path.Combine(directory, WeightsFileName), weights);
        WriteAtomically(Path.Combine(directory, ConfigFileName), JsonSerializer.SerializeToUtf8Bytes(config, Json));
        var manifest = new CheckpointManifest(FormatVersion, WeightsFileName, sha256, weights.LongLength, policy.ParameterCount, config);
        WriteAtomically(Path.Combine(directory, ManifestFileName), JsonSerializer.SerializeToUtf8Bytes(manifest, Json));
        return sha256;
    }

    /// <summary>
    /// Loads a checkpoint, refusing a weights file whose sha256 is not the recorded one and weights whose tensor names
    /// or shapes disagree with the config.
    /// </summary>
    public static (VisionLanguagePolicy Policy, PolicyConfig Config) Load(string directory)
    {
        var manifest = ReadManifest(directory);
        string weightsPath = Path.Combine(directory, manifest.WeightsFile);
        if (!File.Exists(weightsPath))
        {
            throw new FileNotFoundException($"The checkpoint in '{directory}' has no weights file '{manifest.WeightsFile}'.", weightsPath);
        }

        byte[] weights = File.ReadAllBytes(weightsPath); // hash and load the same bytes
        string actual = Sha256Hex(weights);
        if (!string.Equals(actual, manifest.WeightsSha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException(
                $"Weights file '{weightsPath}' fails its sha256 check: expected {manifest.WeightsSha256}, actual {actual}. " +
                "The file is corrupted or has been tampered with; refusing to load it.");
        }

        var config = manifest.Config.Validate();
        string configPath = Path.Combine(directory, ConfigFileName);
        if (File.Exists(configPath))
        {
            var standalone = JsonSerializer.Deserialize<PolicyConfig>(File.ReadAllBytes(configPath));
            if (standalone != config)
            {
                throw new InvalidDataException(
                    $"'{configPath}' ({standalone}) disagrees with the config in '{ManifestFileName}' ({config}).");
            }
        }

        var policy = new VisionLanguagePolicy(config);
        try
        {
            LoadWeights(policy, weights);
        }
        catch
        {
            policy.Dispose();
            throw;
        }

        return (policy, config);
    }

    /// <summary>The manifest (config, sha256) of a saved checkpoint, without loading the weights.</summary>
    public static CheckpointManifest ReadManifest(string directory)
    {
        string path = Path.Combine(directory, ManifestFileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException(
                $"'{directory}' holds no complete checkpoint: '{ManifestFileName}' is missing (it is written last).", path);
        }

        var manifest = JsonSerializer.Deserialize<CheckpointManifest>(File.ReadAllBytes(path))
            ?? throw new InvalidDataException($"'{path}' is empty.");
        if (manifest.FormatVersion != FormatVersion || manifest.Config is null || string.IsNullOrEmpty(manifest.WeightsSha256))
        {
            throw new InvalidDataException(
                $"'{path}' is not a version {FormatVersion} checkpoint manifest with a config and a weights sha256.");
        }

        return manifest;
    }

    /// <summary>The recorded sha256 (lower-case hex) of a saved checkpoint's weights file.</summary>
    public static string ReadSha256(string directory) => ReadManifest(directory).WeightsSha256;

    /// <summary>The weights as safetensors bytes (what <see cref="Save"/> writes), e.g. for a weight store.</summary>
    public static byte[] SerializeWeights(VisionLanguagePolicy policy, SizedBuffer? buffer = null) =>
        (buffer ?? new SizedBuffer()).Write(stream => policy.save_safetensors(stream, leaveOpen: true));

    /// <summary>
    /// Loads safetensors bytes into <paramref name="policy"/> after checking that every tensor the policy has is
    /// there with the same shape and nothing else is.
    /// </summary>
    public static void LoadWeights(VisionLanguagePolicy policy, byte[] safetensors)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(safetensors);
        CheckShapes(policy, ReadSafetensorsShapes(safetensors));
        using var stream = new MemoryStream(safetensors, writable: false);
        policy.load_safetensors(stream);
    }

    /// <summary>Fast in-memory sync (e.g. learner -> rollout copy): copies every parameter and buffer in place.</summary>
    public static void CopyWeights(VisionLanguagePolicy source, VisionLanguagePolicy target)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        if (source.Config != target.Config)
        {
            throw new ArgumentException($"Cannot copy weights between policies of different shapes: {source.Config} vs {target.Config}.");
        }

        using var noGrad = no_grad();
        var targetState = target.state_dict();
        foreach (var (name, value) in source.state_dict())
        {
            targetState[name].copy_(value);
        }
    }

    /// <summary>Lower-case hex sha256 of some bytes.</summary>
    public static string Sha256Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static void CheckShapes(VisionLanguagePolicy policy, Dictionary<string, (string DType, long[] Shape)> stored)
    {
        var expected = policy.state_dict();
        foreach (var (name, tensor) in expected)
        {
            if (!stored.TryGetValue(name, out var entry))
            {
                throw new InvalidDataException(
                    $"The weights have no tensor '{name}', which the config {policy.Config} needs with shape {Show(tensor.shape)}.");
            }

            if (!entry.Shape.SequenceEqual(tensor.shape))
            {
                throw new InvalidDataException(
                    $"Tensor '{name}': the config {policy.Config} expects shape {Show(tensor.shape)}, " +
                    $"but the weights hold shape {Show(entry.Shape)}. The config does not describe these weights.");
            }

            if (entry.DType != "F32")
            {
                throw new InvalidDataException($"Tensor '{name}' is stored as {entry.DType}; the policy needs F32.");
            }
        }

        var unexpected = stored.Keys.Where(name => !expected.ContainsKey(name)).ToArray();
        if (unexpected.Length > 0)
        {
            throw new InvalidDataException(
                $"The weights hold tensors the config {policy.Config} does not build: {string.Join(", ", unexpected)}.");
        }
    }

    /// <summary>Name -> (dtype, shape) from a safetensors header: 8 bytes little-endian length, then JSON.</summary>
    private static Dictionary<string, (string DType, long[] Shape)> ReadSafetensorsShapes(byte[] safetensors)
    {
        if (safetensors.Length < 8)
        {
            throw new InvalidDataException($"{safetensors.Length} bytes are too few for a safetensors file.");
        }

        ulong headerLength = BitConverter.ToUInt64(safetensors, 0);
        if (headerLength > (ulong)(safetensors.Length - 8))
        {
            throw new InvalidDataException($"The safetensors header claims {headerLength} bytes; the file has {safetensors.Length}.");
        }

        using var header = JsonDocument.Parse(Encoding.UTF8.GetString(safetensors, 8, (int)headerLength));
        var shapes = new Dictionary<string, (string, long[])>();
        foreach (var property in header.RootElement.EnumerateObject())
        {
            if (property.Name == "__metadata__")
            {
                continue;
            }

            string dtype = property.Value.GetProperty("dtype").GetString() ?? "";
            long[] shape = property.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            shapes[property.Name] = (dtype, shape);
        }

        return shapes;
    }

    private static string Show(long[] shape) => $"[{string.Join(", ", shape)}]";

    private static void WriteAtomically(string path, byte[] bytes)
    {
        string temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                file.Write(bytes);
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary); // no-op once moved
        }
    }
}
