using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Grid.Policy.Qwen;

/// <summary>
/// Reads and writes a Hugging Face Qwen2-VL / Qwen2.5-VL folder: config.json plus model.safetensors or shards listed
/// by model.safetensors.index.json. Tensors stream one at a time, in chunks, from the file into the float32 parameter
/// (BF16, F16 or F32 on disk), so the weights are never held twice. Every header is checked before any weight is
/// read: each key known, each expected key present, shapes, dtypes and the files' sizes. Saving writes the same keys
/// in the same dtypes and files as the source folder, each file under a temporary name renamed when complete.
/// </summary>
public static class HuggingFaceCheckpoint
{
    public const string ConfigFileName = "config.json";
    public const string SingleWeightsFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    /// <summary>Files besides the weights that a save copies: tokenizer, processor, chat template, generation, config.</summary>
    private static readonly string[] CopiedPatterns = ["*.json", "*.txt", "*.jinja", "*.model", "*.tiktoken"];

    private const int ChunkElements = 1 << 20;

    /// <summary>Loads <paramref name="folder"/> into a float32 model on <paramref name="device"/> (default CPU).</summary>
    public static QwenCheckpoint Load(string folder, Device? device = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        folder = Path.GetFullPath(folder);
        var config = LoadConfig(folder);
        var headers = ReadLayout(folder);
        var model = new QwenVLModel(config);
        try
        {
            if (device is not null)
            {
                model.to(device);
                model.KeepParametersOutOfDisposeScopes();
            }

            var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            var plan = Match(headers, parameters, folder);
            using (no_grad())
            {
                foreach (var header in headers)
                {
                    using var stream = new FileStream(header.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
                    foreach (var entry in header.Entries)
                    {
                        ReadInto(stream, header, entry, plan[entry.Name]);
                    }
                }
            }

            var dtypes = headers.SelectMany(h => h.Entries).ToDictionary(e => e.Name, e => e.DType);
            return new QwenCheckpoint(model, config, dtypes);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Everything about a hub folder that can be checked without reading the weights: config.json, every safetensors
    /// header (files, shards, sizes), the tokenizer, the chat template and the image processor's config. Cheap: run it
    /// before expensive work that will need the checkpoint. Refusals are <see cref="InvalidDataException"/> or
    /// <see cref="FileNotFoundException"/>s naming the file and what is wrong.
    /// </summary>
    public static QwenVLConfig Inspect(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        folder = Path.GetFullPath(folder);
        var config = LoadConfig(folder);
        ReadLayout(folder);
        using var processor = QwenProcessor.FromCheckpoint(folder);
        return config;
    }

    /// <summary>
    /// <paramref name="folder"/> as a policy: the weights (<see cref="Load"/>), the tokenizer, chat template and image
    /// processor (<see cref="QwenProcessor"/>), and the end tokens of generation_config.json, if it has any.
    /// </summary>
    public static QwenVLModel LoadPolicy(string folder, Device? device = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        folder = Path.GetFullPath(folder);
        HubCheckpoint.Verify(folder);
        var processor = QwenProcessor.FromCheckpoint(folder); // cheap, and refuses a missing tokenizer before the weights are read
        try
        {
            var model = Load(folder, device).Model;
            model.Attach(processor, EndTokens(folder));
            return model;
        }
        catch
        {
            processor.Dispose();
            throw;
        }
    }

    /// <summary>The tokens a completion ends at: config.json's and generation_config.json's eos_token_id.</summary>
    public static IReadOnlySet<int> EndTokens(string folder) =>
        new HashSet<int>([.. LoadConfig(folder).EosTokenIds, .. GenerationEndTokens(folder)]);

    /// <summary>config.json, a refusal of it naming the file (what this port cannot run is an input error, not a crash).</summary>
    private static QwenVLConfig LoadConfig(string folder)
    {
        string path = Path.Combine(folder, ConfigFileName);
        try
        {
            return QwenVLConfig.Load(path);
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>generation_config.json's eos_token_id (a number or a list), or nothing when the file or field is absent.</summary>
    private static IReadOnlyList<int> GenerationEndTokens(string folder)
    {
        string path = Path.Combine(folder, "generation_config.json");
        if (!File.Exists(path))
        {
            return [];
        }

        try
        {
            var node = JsonNode.Parse(File.ReadAllText(path))?["eos_token_id"];
            return node switch
            {
                null => [],
                JsonArray list => list.Select(item => item!.GetValue<int>()).ToArray(),
                _ => [node.GetValue<int>()],
            };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: eos_token_id is not a token id or a list of them ({e.Message}).", e);
        }
    }

    /// <summary>
    /// Writes <paramref name="model"/>'s weights to <paramref name="outputFolder"/> with the key names, dtypes and file
    /// layout of <paramref name="sourceFolder"/> (the folder it was loaded from), and copies the source's config,
    /// tokenizer, processor, chat-template and generation files.
    /// </summary>
    public static void Save(QwenVLModel model, string sourceFolder, string outputFolder)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(sourceFolder);
        ArgumentException.ThrowIfNullOrEmpty(outputFolder);
        sourceFolder = Path.GetFullPath(sourceFolder);
        outputFolder = Path.GetFullPath(outputFolder);
        var headers = ReadLayout(sourceFolder);
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var plan = Match(headers, parameters, sourceFolder);
        Directory.CreateDirectory(outputFolder);
        using (no_grad())
        {
            foreach (var header in headers)
            {
                string target = Path.Combine(outputFolder, Path.GetFileName(header.Path));
                WriteAtomically(target, stream => WriteSafetensors(stream, header, plan));
            }
        }

        string index = Path.Combine(sourceFolder, IndexFileName);
        if (File.Exists(index))
        {
            WriteIndex(index, headers, Path.Combine(outputFolder, IndexFileName));
        }

        foreach (string pattern in CopiedPatterns)
        {
            foreach (string file in Directory.EnumerateFiles(sourceFolder, pattern))
            {
                string name = Path.GetFileName(file);
                string target = Path.Combine(outputFolder, name);
                // Grid's own manifest of a run checkpoint describes that folder's files, not the copy's.
                if (name is IndexFileName or HubCheckpoint.ManifestFileName || string.Equals(file, target, StringComparison.Ordinal))
                {
                    continue;
                }

                WriteAtomically(target, stream =>
                {
                    using var source = File.OpenRead(file);
                    source.CopyTo(stream);
                });
            }
        }
    }

    /// <summary>The checkpoint key of a model parameter: newer transformers nest the decoder and tower under "model.".</summary>
    private static string ModelKey(string checkpointKey) =>
        checkpointKey.StartsWith("model.language_model.", StringComparison.Ordinal) ? "model." + checkpointKey["model.language_model.".Length..]
        : checkpointKey.StartsWith("model.visual.", StringComparison.Ordinal) ? checkpointKey["model.".Length..]
        : checkpointKey;

    /// <summary>The weights files' headers: the single file, or every shard the index names (each must exist).</summary>
    private static List<SafetensorsHeader> ReadLayout(string folder)
    {
        string index = Path.Combine(folder, IndexFileName);
        if (!File.Exists(index))
        {
            string single = Path.Combine(folder, SingleWeightsFileName);
            if (!File.Exists(single))
            {
                throw new FileNotFoundException(
                    $"'{folder}' has neither {SingleWeightsFileName} nor {IndexFileName}: no weights to load.", single);
            }

            return [SafetensorsHeader.Read(single)];
        }

        var weightMap = ReadWeightMap(index);
        var headers = new List<SafetensorsHeader>();
        foreach (var file in weightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            if (file.Contains('/') || file.Contains('\\') || file is "." or "..")
            {
                throw new InvalidDataException($"{index} names shard '{file}', which is not a file name inside the folder.");
            }

            string path = Path.Combine(folder, file);
            if (!File.Exists(path))
            {
                throw new FileNotFoundException(
                    $"Shard '{file}' named by {index} is missing (it holds {weightMap.Count(p => p.Value == file)} tensors, e.g. '{weightMap.First(p => p.Value == file).Key}').",
                    path);
            }

            var header = SafetensorsHeader.Read(path);
            foreach (var entry in header.Entries)
            {
                if (!weightMap.TryGetValue(entry.Name, out string? listed) || listed != file)
                {
                    throw new InvalidDataException(
                        $"Tensor '{entry.Name}' is in '{path}' but {index} maps it to {(listed is null ? "no shard" : $"'{listed}'")}.");
                }
            }

            var present = header.Entries.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var (key, _) in weightMap.Where(p => p.Value == file))
            {
                if (!present.Contains(key))
                {
                    throw new InvalidDataException($"{index} maps tensor '{key}' to '{path}', which does not hold it.");
                }
            }

            headers.Add(header);
        }

        return headers;
    }

    private static Dictionary<string, string> ReadWeightMap(string index)
    {
        try
        {
            var root = JsonNode.Parse(File.ReadAllText(index)) as JsonObject;
            var map = root?["weight_map"] as JsonObject
                ?? throw new InvalidDataException($"{index} has no weight_map object.");
            return map.ToDictionary(p => p.Key, p => p.Value!.GetValue<string>(), StringComparer.Ordinal);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
        {
            throw new InvalidDataException($"{index} is not a valid safetensors index ({e.Message}).", e);
        }
    }

    /// <summary>Checkpoint key -> parameter, after checking names, shapes and completeness both ways.</summary>
    private static Dictionary<string, Parameter> Match(List<SafetensorsHeader> headers, Dictionary<string, Parameter> parameters,
        string folder)
    {
        var plan = new Dictionary<string, Parameter>(StringComparer.Ordinal);
        var covered = new HashSet<string>(StringComparer.Ordinal);
        foreach (var header in headers)
        {
            foreach (var entry in header.Entries)
            {
                string key = ModelKey(entry.Name);
                if (!parameters.TryGetValue(key, out var parameter))
                {
                    string hint = key == "lm_head.weight" ? " (config.json ties the word embeddings, so there is no LM head)" : "";
                    throw new InvalidDataException($"Tensor '{entry.Name}' in '{header.Path}' is not a weight of this model{hint}.");
                }

                if (!covered.Add(key))
                {
                    throw new InvalidDataException($"Tensor '{entry.Name}' in '{header.Path}' is stored twice.");
                }

                if (!parameter.shape.SequenceEqual(entry.Shape))
                {
                    throw new InvalidDataException(
                        $"Tensor '{entry.Name}' in '{header.Path}' has shape [{string.Join(", ", entry.Shape)}]; the config builds [{string.Join(", ", parameter.shape)}].");
                }

                plan[entry.Name] = parameter;
            }
        }

        var missing = parameters.Keys.Where(k => !covered.Contains(k)).ToList();
        if (missing.Count > 0)
        {
            throw new InvalidDataException(
                $"The weights in '{folder}' lack {missing.Count} tensors the config builds: {string.Join(", ", missing.Take(8))}{(missing.Count > 8 ? ", ..." : "")}.");
        }

        return plan;
    }

    /// <summary>Streams one tensor from the file into <paramref name="parameter"/>, converting each chunk to float32.</summary>
    private static void ReadInto(FileStream stream, SafetensorsHeader header, SafetensorsEntry entry, Parameter parameter)
    {
        int size = SafetensorsHeader.BytesPerElement(entry.DType);
        long count = entry.ElementCount;
        using var flat = parameter.view(-1);
        var bytes = new byte[(int)Math.Min(count, ChunkElements) * size];
        var floats = new float[Math.Min(count, ChunkElements)];
        stream.Seek(header.DataStart + entry.Begin, SeekOrigin.Begin);
        for (long done = 0; done < count;)
        {
            int n = (int)Math.Min(ChunkElements, count - done);
            int read = stream.ReadAtLeast(bytes.AsSpan(0, n * size), n * size, throwOnEndOfStream: false);
            if (read < n * size)
            {
                throw new InvalidDataException(
                    $"'{header.Path}' ended inside tensor '{entry.Name}' (the file is truncated).");
            }

            ToFloat32(entry.DType, bytes.AsSpan(0, n * size), floats.AsSpan(0, n));
            using var chunk = tensor(n == floats.Length ? floats : floats[..n]);
            using var target = flat.narrow(0, done, n);
            target.copy_(chunk);
            done += n;
        }
    }

    private static void ToFloat32(string dtype, ReadOnlySpan<byte> source, Span<float> target)
    {
        switch (dtype)
        {
            case "F32":
                MemoryMarshal.Cast<byte, float>(source).CopyTo(target);
                break;
            case "BF16":
                for (int i = 0; i < target.Length; i++)
                {
                    target[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(source[(2 * i)..]) << 16);
                }

                break;
            case "F16":
                for (int i = 0; i < target.Length; i++)
                {
                    target[i] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(source[(2 * i)..]));
                }

                break;
            default:
                throw new InvalidDataException($"dtype {dtype} is not supported.");
        }
    }

    private static void FromFloat32(string dtype, ReadOnlySpan<float> source, Span<byte> target)
    {
        switch (dtype)
        {
            case "F32":
                MemoryMarshal.Cast<float, byte>(source).CopyTo(target);
                break;
            case "BF16":
                for (int i = 0; i < source.Length; i++)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(target[(2 * i)..], ToBFloat16(source[i]));
                }

                break;
            case "F16":
                for (int i = 0; i < source.Length; i++)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(target[(2 * i)..], BitConverter.HalfToUInt16Bits((Half)source[i]));
                }

                break;
            default:
                throw new InvalidDataException($"dtype {dtype} is not supported.");
        }
    }

    /// <summary>Round to nearest even, as torch's float -> bfloat16 conversion does (NaN stays a quiet NaN).</summary>
    private static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x0040);
        }

        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    private static void WriteSafetensors(Stream stream, SafetensorsHeader source, Dictionary<string, Parameter> plan)
    {
        var header = new JsonObject();
        if (source.Metadata is not null)
        {
            header["__metadata__"] = source.Metadata.DeepClone();
        }

        long offset = 0;
        foreach (var entry in source.Entries)
        {
            long length = entry.ElementCount * SafetensorsHeader.BytesPerElement(entry.DType);
            header[entry.Name] = new JsonObject
            {
                ["dtype"] = entry.DType,
                ["shape"] = new JsonArray(entry.Shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + length),
            };
            offset += length;
        }

        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8; // the data starts 8-byte aligned, as safetensors writes it
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)padded);
        stream.Write(prefix);
        stream.Write(json);
        for (int i = json.Length; i < padded; i++)
        {
            stream.WriteByte((byte)' ');
        }

        foreach (var entry in source.Entries)
        {
            int size = SafetensorsHeader.BytesPerElement(entry.DType);
            using var flat = plan[entry.Name].detach().to(CPU).contiguous().view(-1);
            long count = flat.shape[0];
            var bytes = new byte[(int)Math.Min(count, ChunkElements) * size];
            for (long done = 0; done < count;)
            {
                int n = (int)Math.Min(ChunkElements, count - done);
                using var chunk = flat.narrow(0, done, n);
                var floats = chunk.data<float>().ToArray();
                FromFloat32(entry.DType, floats, bytes.AsSpan(0, n * size));
                stream.Write(bytes, 0, n * size);
                done += n;
            }
        }
    }

    private static void WriteIndex(string sourceIndex, List<SafetensorsHeader> headers, string target)
    {
        var root = JsonNode.Parse(File.ReadAllText(sourceIndex)) as JsonObject ?? new JsonObject();
        long total = headers.SelectMany(h => h.Entries).Sum(e => e.ElementCount * SafetensorsHeader.BytesPerElement(e.DType));
        var metadata = root["metadata"] as JsonObject ?? new JsonObject();
        metadata["total_size"] = total;
        root["metadata"] = metadata;
        var map = new JsonObject();
        foreach (var header in headers)
        {
            foreach (var entry in header.Entries.OrderBy(e => e.Name, StringComparer.Ordinal))
            {
                map[entry.Name] = Path.GetFileName(header.Path);
            }
        }

        root["weight_map"] = map;
        var json = Encoding.UTF8.GetBytes(root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        WriteAtomically(target, stream => stream.Write(json));
    }

    /// <summary>Writes through a temporary file in the same folder, renamed over <paramref name="path"/> when complete.</summary>
    private static void WriteAtomically(string path, Action<Stream> write)
    {
        string temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }
}
