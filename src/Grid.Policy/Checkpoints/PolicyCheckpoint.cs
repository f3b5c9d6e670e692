using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Grid.Core.Files;
using Grid.Policy.Model;
using Grid.Policy.Tokenization;
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

    /// <summary>
    /// Writes the checkpoint into <paramref name="directory"/> (created if needed) and returns the weights' sha256.
    /// The manifest records <paramref name="tokenizer"/> (default: <see cref="Tokenizer.Default"/>), whose vocabulary
    /// must fit the config's embedding.
    /// </summary>
    public static string Save(VisionLanguagePolicy policy, PolicyConfig config, string directory, Tokenizer? tokenizer = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        tokenizer ??= Tokenizer.Default;
        if (tokenizer.VocabSize > config.VocabSize)
        {
            throw new ArgumentException(
                $"The tokenizer {tokenizer} has more ids than the policy's embedding ({config.VocabSize} rows); "
                + $"build the policy with VocabSize {tokenizer.VocabSize} or more.", nameof(tokenizer));
        }

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
        var manifest = new CheckpointManifest(FormatVersion, WeightsFileName, sha256, weights.LongLength, policy.ParameterCount, config,
            TokenizerRecord.Of(tokenizer));
        WriteAtomically(Path.Combine(directory, ManifestFileName), JsonSerializer.SerializeToUtf8Bytes(manifest, Json));
        return sha256;
    }

    /// <summary>A weights file larger than this is refused unread (the largest policy the settings allow is a
    /// few hundred megabytes).</summary>
    public const long MaxWeightsBytes = 1L << 30;

    /// <summary>checkpoint.json and config.json are small; larger ones are refused unread.</summary>
    public const long MaxJsonBytes = 1 << 20;

    private static readonly JsonDocumentOptions HeaderOptions = new() { AllowDuplicateProperties = false };

    /// <summary>
    /// Loads a checkpoint, refusing a weights file whose sha256 is not the recorded one and weights whose tensor names
    /// or shapes disagree with the config. Every file must lie inside <paramref name="directory"/> (no "..", absolute
    /// path or symbolic link leading out), and sizes are checked before anything large is read or allocated. A checkpoint
    /// trained with another tokenizer than <paramref name="tokenizer"/> (default: <see cref="Tokenizer.Default"/>) is
    /// refused (see <see cref="RequireTokenizer"/>).
    /// </summary>
    public static (VisionLanguagePolicy Policy, PolicyConfig Config) Load(string directory, Tokenizer? tokenizer = null)
    {
        var (manifest, config, weightsPath) = Inspect(directory, tokenizer);
        byte[] weights = ReadBounded(weightsPath, manifest.WeightsBytes); // hash and load the same bytes
        string actual = Sha256Hex(weights);
        if (!string.Equals(actual, manifest.WeightsSha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException(
                $"Weights file '{weightsPath}' fails its sha256 check: expected {manifest.WeightsSha256}, actual {actual}. " +
                "The file is corrupted or has been tampered with; refusing to load it.");
        }

        var stored = ReadSafetensorsShapes(weights, weightsPath);
        var policy = new VisionLanguagePolicy(config);
        try
        {
            CheckShapes(policy, stored);
            using var stream = new MemoryStream(weights, writable: false);
            policy.load_safetensors(stream);
        }
        catch
        {
            policy.Dispose();
            throw;
        }

        return (policy, config);
    }

    /// <summary>
    /// Everything about a checkpoint that can be checked without reading the weights: the manifest, the config (and
    /// config.json agreeing with it), the weights file inside the folder with the recorded size. Cheap: run it before
    /// expensive work that will need the checkpoint.
    /// </summary>
    public static (CheckpointManifest Manifest, PolicyConfig Config, string WeightsPath) Inspect(string directory,
        Tokenizer? tokenizer = null)
    {
        var manifest = ReadManifest(directory);
        string folder = Path.GetFullPath(directory);
        RequireTokenizer(manifest, tokenizer ?? Tokenizer.Default, Path.Combine(folder, ManifestFileName));
        var config = CheckConfig(manifest.Config, Path.Combine(folder, ManifestFileName));
        string weightsPath = Inside(folder, manifest.WeightsFile, "weights file");
        if (!File.Exists(weightsPath))
        {
            throw new FileNotFoundException(
                $"The checkpoint in '{folder}' has no weights file '{manifest.WeightsFile}'. Copy the whole checkpoint folder.",
                weightsPath);
        }

        long length = new FileInfo(weightsPath).Length;
        if (manifest.WeightsBytes is <= 0 or > MaxWeightsBytes || length != manifest.WeightsBytes)
        {
            throw new InvalidDataException(
                $"Weights file '{weightsPath}' has {length} bytes; '{ManifestFileName}' records {manifest.WeightsBytes} "
                + $"(at most {MaxWeightsBytes} are accepted). The file is truncated, replaced or not this checkpoint's; "
                + "copy the whole checkpoint folder again.");
        }

        string configPath = Inside(folder, ConfigFileName, "config file");
        if (File.Exists(configPath))
        {
            PolicyConfig? standalone;
            try
            {
                standalone = JsonSerializer.Deserialize<PolicyConfig>(ReadBounded(configPath, maxBytes: MaxJsonBytes));
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"'{configPath}' is not a policy config ({e.Message}). Copy the whole checkpoint folder again.", e);
            }

            if (standalone != config)
            {
                throw new InvalidDataException(
                    $"'{configPath}' ({standalone}) disagrees with the config in '{ManifestFileName}' ({config}).");
            }
        }

        return (manifest, config, weightsPath);
    }

    /// <summary>The manifest (config, sha256) of a saved checkpoint, without loading the weights.</summary>
    public static CheckpointManifest ReadManifest(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string folder = Path.GetFullPath(directory);
        if (File.Exists(folder))
        {
            throw new InvalidDataException(
                $"'{folder}' is a file; a checkpoint is a folder holding {ManifestFileName}, {ConfigFileName} and "
                + $"{WeightsFileName} (e.g. RUN/checkpoints/sft). Pass the folder.");
        }

        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException(
                $"There is no checkpoint folder '{folder}'. Pass a folder holding {ManifestFileName} (e.g. RUN/checkpoints/sft).");
        }

        string path = Inside(folder, ManifestFileName, "manifest");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException(
                $"'{folder}' holds no complete checkpoint: '{ManifestFileName}' is missing (it is written last).{RunFolderHint(folder)}", path);
        }

        CheckpointManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<CheckpointManifest>(ReadBounded(path, maxBytes: MaxJsonBytes));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException(
                $"'{path}' is not a checkpoint manifest ({e.Message}). The checkpoint is damaged; copy it again or use another one.", e);
        }

        if (manifest is null || manifest.FormatVersion != FormatVersion || manifest.Config is null
            || string.IsNullOrEmpty(manifest.WeightsSha256) || string.IsNullOrEmpty(manifest.WeightsFile))
        {
            throw new InvalidDataException(
                $"'{path}' is not a version {FormatVersion} checkpoint manifest with a config, a weights file and a weights sha256.");
        }

        return manifest;
    }

    /// <summary>
    /// Throws when the checkpoint was trained with another tokenizer than <paramref name="tokenizer"/>: the same ids would
    /// mean other text. A manifest without a tokenizer record (written before they were recorded) means
    /// <see cref="Tokenizer.Default"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">The tokenizers differ; the message names both.</exception>
    public static void RequireTokenizer(CheckpointManifest manifest, Tokenizer tokenizer, string manifestPath)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(tokenizer);
        var recorded = manifest.TokenizerOrDefault;
        if (!recorded.Matches(tokenizer))
        {
            string known = Tokenizer.Find(recorded.Name) is { } match && recorded.Matches(match)
                ? $"Run with the {recorded.Name} tokenizer to use this checkpoint"
                : "No tokenizer this build knows has that vocabulary; use the build that wrote the checkpoint";
            throw new InvalidDataException(
                $"'{manifestPath}' was trained with the tokenizer {recorded}{(manifest.Tokenizer is null ? " (no record: an older checkpoint)" : "")}, "
                + $"not {tokenizer}. Token ids would mean other text. {known}, or start from a checkpoint trained with {tokenizer.Name}.");
        }
    }

    /// <summary>The recorded sha256 (lower-case hex) of a saved checkpoint's weights file.</summary>
    public static string ReadSha256(string directory) => ReadManifest(directory).WeightsSha256;

    /// <summary>The weights as safetensors bytes (what <see cref="Save"/> writes), e.g. for a weight store.</summary>
    public static byte[] SerializeWeights(PolicyModel policy, SizedBuffer? buffer = null) =>
        (buffer ?? new SizedBuffer()).Write(stream => policy.save_safetensors(stream, leaveOpen: true));

    /// <summary>
    /// Loads safetensors bytes into <paramref name="policy"/> after checking that every tensor the policy has is
    /// there with the same shape and nothing else is.
    /// </summary>
    public static void LoadWeights(PolicyModel policy, byte[] safetensors)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(safetensors);
        CheckShapes(policy, ReadSafetensorsShapes(safetensors));
        using var stream = new MemoryStream(safetensors, writable: false);
        policy.load_safetensors(stream);
    }

    /// <summary>Fast in-memory sync (e.g. learner -> rollout copy): copies every parameter and buffer in place.</summary>
    public static void CopyWeights(PolicyModel source, PolicyModel target)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        if (source.GetType() != target.GetType() || source.Shape != target.Shape)
        {
            throw new ArgumentException($"Cannot copy weights between policies of different shapes: {source.Shape} vs {target.Shape}.");
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

    private static void CheckShapes(PolicyModel policy, Dictionary<string, (string DType, long[] Shape)> stored)
    {
        var expected = policy.state_dict();
        foreach (var (name, tensor) in expected)
        {
            if (!stored.TryGetValue(name, out var entry))
            {
                throw new InvalidDataException(
                    $"The weights have no tensor '{name}', which the config {policy.Shape} needs with shape {Show(tensor.shape)}.");
            }

            if (!entry.Shape.SequenceEqual(tensor.shape))
            {
                throw new InvalidDataException(
                    $"Tensor '{name}': the config {policy.Shape} expects shape {Show(tensor.shape)}, " +
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
                $"The weights hold tensors the config {policy.Shape} does not build: {string.Join(", ", unexpected)}.");
        }
    }

    /// <summary>
    /// Name -> (dtype, shape) from a safetensors header (8 bytes little-endian length, then JSON), after checking that
    /// the header describes the file: every tensor F32 with a non-negative shape, and their data_offsets tiling the data
    /// that follows the header exactly, in order, without gaps, overlaps or bytes past the end.
    /// </summary>
    private static Dictionary<string, (string DType, long[] Shape)> ReadSafetensorsShapes(byte[] safetensors, string origin = "The weights")
    {
        if (safetensors.Length < 8)
        {
            throw Damaged(origin, $"{safetensors.Length} bytes are too few for a safetensors file");
        }

        ulong headerLength = BitConverter.ToUInt64(safetensors, 0);
        if (headerLength > (ulong)(safetensors.Length - 8))
        {
            throw Damaged(origin, $"the safetensors header claims {headerLength} bytes; the file has {safetensors.Length}");
        }

        long dataLength = safetensors.Length - 8 - (long)headerLength;
        JsonDocument header;
        try
        {
            header = JsonDocument.Parse(safetensors.AsMemory(8, (int)headerLength), HeaderOptions);
        }
        catch (JsonException e)
        {
            throw Damaged(origin, $"the safetensors header is not valid JSON ({e.Message})");
        }

        using (header)
        {
            if (header.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw Damaged(origin, "the safetensors header is not a JSON object");
            }

            var shapes = new Dictionary<string, (string, long[])>();
            var spans = new List<(long Begin, long End, string Name)>();
            foreach (var property in header.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    continue;
                }

                var (dtype, shape, begin, end) = ReadEntry(property, dataLength, origin);
                shapes[property.Name] = (dtype, shape);
                spans.Add((begin, end, property.Name));
            }

            long next = 0;
            foreach (var (begin, end, name) in spans.OrderBy(span => span.Begin).ThenBy(span => span.End))
            {
                if (begin != next)
                {
                    throw Damaged(origin, begin < next
                        ? $"tensor '{name}' at bytes [{begin}, {end}) overlaps the tensor before it, which ends at {next}"
                        : $"the data has a gap at bytes [{next}, {begin}) before tensor '{name}'");
                }

                next = end;
            }

            if (next != dataLength)
            {
                throw Damaged(origin, $"the tensors cover {next} of the {dataLength} data bytes after the header");
            }

            return shapes;
        }
    }

    private static (string DType, long[] Shape, long Begin, long End) ReadEntry(JsonProperty tensor, long dataLength, string origin)
    {
        var entry = tensor.Value;
        if (entry.ValueKind != JsonValueKind.Object
            || !entry.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String
            || !entry.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array
            || !entry.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array
            || offsets.GetArrayLength() != 2)
        {
            throw Damaged(origin, $"tensor '{tensor.Name}' has no dtype string, shape array and data_offsets pair in the header");
        }

        string dtype = dtypeElement.GetString()!;
        if (dtype != "F32")
        {
            throw new InvalidDataException($"{origin}: tensor '{tensor.Name}' is stored as {dtype}; the policy needs F32.");
        }

        long elements = 1;
        var shape = new long[shapeElement.GetArrayLength()];
        int i = 0;
        foreach (var dimension in shapeElement.EnumerateArray())
        {
            if (dimension.ValueKind != JsonValueKind.Number || !dimension.TryGetInt64(out long size) || size < 0
                || (size > 0 && elements > dataLength / 4 / size))
            {
                throw Damaged(origin, $"tensor '{tensor.Name}' has shape {shapeElement.GetRawText()}, which is not a list of "
                    + $"sizes >= 0 that fits in the file's {dataLength} data bytes");
            }

            elements *= size;
            shape[i++] = size;
        }

        long[] bounds = new long[2];
        i = 0;
        foreach (var offset in offsets.EnumerateArray())
        {
            if (offset.ValueKind != JsonValueKind.Number || !offset.TryGetInt64(out bounds[i++]))
            {
                throw Damaged(origin, $"tensor '{tensor.Name}' has data_offsets {offsets.GetRawText()}, not two whole numbers");
            }
        }

        var (begin, end) = (bounds[0], bounds[1]);
        if (begin < 0 || end < begin || end > dataLength || end - begin != elements * 4)
        {
            throw Damaged(origin, $"tensor '{tensor.Name}' has data_offsets [{begin}, {end}), but its shape "
                + $"{Show(shape)} of F32 needs {elements * 4} bytes inside the {dataLength} data bytes after the header");
        }

        return (dtype, shape, begin, end);
    }

    private static InvalidDataException Damaged(string origin, string problem) =>
        new($"{origin} is not a readable safetensors file: {problem}. The checkpoint is damaged; copy it again or use another one.");

    /// <summary>
    /// The full path of <paramref name="name"/> in <paramref name="folder"/>, refusing a name that is not a plain file
    /// name (separators, "..", absolute) and a file that is a symbolic link leading outside the folder.
    /// </summary>
    private static string Inside(string folder, string name, string what)
    {
        if (name.Length == 0 || name is "." or ".." || name.Contains('/') || name.Contains('\\')
            || Path.IsPathRooted(name) || name.Any(char.IsControl))
        {
            throw new InvalidDataException(
                $"The checkpoint in '{folder}' names its {what} \"{name}\", which is not a plain file name inside the folder; "
                + "a checkpoint only reads files in its own folder. The manifest is damaged or crafted; use another checkpoint.");
        }

        string path = Path.Combine(folder, name);
        if (InputFile.KindOf(path) == FileKind.SymbolicLinkLoop)
        {
            throw new InvalidDataException($"The checkpoint's {what} '{path}' is a symbolic link loop (too many levels of "
                + "links). Copy the real file into the folder.");
        }

        var info = new FileInfo(path);
        if (info.LinkTarget is not null)
        {
            string root = Path.TrimEndingDirectorySeparator(ResolveFolder(folder)) + Path.DirectorySeparatorChar;
            var target = info.ResolveLinkTarget(returnFinalTarget: true);
            string targetPath = target is null ? "(unresolvable)" : Path.GetFullPath(target.FullName);
            if (target is null || !targetPath.StartsWith(root, StringComparison.Ordinal))
            {
                throw new InvalidDataException(
                    $"The checkpoint's {what} '{path}' is a symbolic link to {targetPath}, outside the checkpoint folder; "
                    + "a checkpoint only reads files in its own folder. Copy the real file into the folder.");
            }

            return targetPath; // sizes and reads are of the file itself, not of the link
        }

        return path;
    }

    /// <summary>The folder with symbolic links in its own path resolved, so link targets compare against it.</summary>
    private static string ResolveFolder(string folder)
    {
        var info = new DirectoryInfo(folder);
        return info.LinkTarget is null ? folder : info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? folder;
    }

    /// <summary>Reads a file of <paramref name="expectedBytes"/> (or at most <paramref name="maxBytes"/>), never more.</summary>
    private static byte[] ReadBounded(string path, long expectedBytes = -1, long maxBytes = MaxWeightsBytes)
    {
        if (InputFile.Refusal(path) is { } why)
        {
            throw new InvalidDataException($"'{path}' is {why}. The checkpoint is damaged or not a checkpoint; use another one.");
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long limit = expectedBytes >= 0 ? expectedBytes : maxBytes;
        if (stream.CanSeek && stream.Length > limit)
        {
            throw new InvalidDataException($"'{path}' has {stream.Length} bytes; at most {limit} are expected. "
                + "The checkpoint is damaged or not a checkpoint; use another one.");
        }

        var buffer = new byte[stream.CanSeek ? stream.Length : limit];
        int read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        return read == buffer.Length ? buffer : buffer[..read];
    }

    /// <summary>The config validated and bounded before a policy of that shape is allocated.</summary>
    private static PolicyConfig CheckConfig(PolicyConfig config, string origin)
    {
        string? problem = null;
        try
        {
            config.Validate();
        }
        catch (ArgumentException e)
        {
            problem = e.Message;
        }

        long transformer = 12L * config.DModel * config.DModel * config.Layers;
        problem ??= config switch
        {
            { ImageSize: > MaxImageSize } or { Channels: > 4 } => $"images of {config.ImageSize} pixels and {config.Channels} channels "
                + $"(at most {MaxImageSize} and 4)",
            { DModel: > 1024 } or { Layers: > 32 } or { StemChannels: > 256 } => "d_model, layers or stem channels beyond 1024, 32 and 256",
            _ when transformer > 50_000_000 => $"{transformer} transformer weights (at most 50000000)",
            { VocabSize: > 4096 } or { MaxSequenceLength: > 4096 } => "a vocabulary or sequence length beyond 4096",
            _ => null,
        };
        return problem is null
            ? config
            : throw new InvalidDataException($"'{origin}' describes a policy this program does not load: {problem}. "
                + "The checkpoint is damaged or from another program; use another one.");
    }

    private const int MaxImageSize = 512;

    private static string RunFolderHint(string folder)
    {
        string checkpoints = Path.Combine(folder, "checkpoints");
        if (!Directory.Exists(checkpoints))
        {
            return " Pass a checkpoint folder, e.g. RUN/checkpoints/sft.";
        }

        var found = Directory.EnumerateDirectories(checkpoints)
            .Where(d => File.Exists(Path.Combine(d, ManifestFileName)))
            .Select(Path.GetFileName).Order(StringComparer.Ordinal).Take(5).ToArray();
        return found.Length == 0
            ? " It looks like a run folder, but its checkpoints folder holds no complete checkpoint."
            : $" It looks like a run folder: pass one of its checkpoints, e.g. {Path.Combine(checkpoints, found[^1]!)}"
              + $" (there: {string.Join(", ", found)}).";
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
