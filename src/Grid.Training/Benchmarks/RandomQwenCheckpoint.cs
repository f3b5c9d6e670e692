using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grid.Policy.Qwen;
using static TorchSharp.torch;

namespace Grid.Training.Benchmarks;

/// <summary>
/// Writes a Hugging Face Qwen2-VL / Qwen2.5-VL folder with random BF16 weights for a given config.json: what a
/// benchmark loads when the real checkpoint cannot be downloaded. Weights are normal with standard deviation 0.02,
/// normalisation weights 1 and their biases 0, in shards of about <c>shardBytes</c> listed by
/// model.safetensors.index.json, each shard under a temporary name renamed when complete. Tensors are generated in
/// chunks straight into the file, so memory stays at a few megabytes whatever the model's size. A marker file, written
/// last, records the shards' sizes: <see cref="IsComplete"/> trusts a folder only when it and every shard agree.
/// </summary>
public static class RandomQwenCheckpoint
{
    public const string MarkerFileName = "grid-random-checkpoint.json";

    public const double WeightStd = 0.02;

    private const int ChunkElements = 1 << 20;

    /// <summary>
    /// Writes <paramref name="configJson"/> as config.json, the given side files (tokenizer, processor, generation) and
    /// random weights for the network it describes into <paramref name="folder"/>.
    /// </summary>
    /// <param name="sideFiles">File name -> content, written as they are (e.g. tokenizer.json).</param>
    public static void Write(string folder, string configJson, IReadOnlyDictionary<string, byte[]> sideFiles, long shardBytes, ulong seed)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(configJson);
        ArgumentNullException.ThrowIfNull(sideFiles);
        ArgumentOutOfRangeException.ThrowIfLessThan(shardBytes, 1);
        var config = QwenVLConfig.Parse(configJson);
        Directory.CreateDirectory(folder);
        File.Delete(Path.Combine(folder, MarkerFileName)); // an interrupted rewrite must not look complete
        var tensors = TensorsOf(config);
        var shards = Pack(tensors, shardBytes);
        string[] names = [.. shards.Select((_, i) => $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors")];
        using var generator = new Generator(seed);
        var sizes = new JsonObject();
        for (int i = 0; i < shards.Count; i++)
        {
            string path = Path.Combine(folder, names[i]);
            WriteAtomically(path, stream => WriteShard(stream, shards[i], generator));
            sizes[names[i]] = new FileInfo(path).Length;
        }

        var weightMap = new JsonObject();
        for (int i = 0; i < shards.Count; i++)
        {
            foreach (var (name, _) in shards[i])
            {
                weightMap[name] = names[i];
            }
        }

        long total = tensors.Sum(t => 2 * Elements(t.Shape));
        WriteText(folder, HuggingFaceCheckpoint.IndexFileName, new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = total },
            ["weight_map"] = weightMap,
        });
        File.WriteAllText(Path.Combine(folder, HuggingFaceCheckpoint.ConfigFileName), configJson);
        foreach (var (name, content) in sideFiles)
        {
            File.WriteAllBytes(Path.Combine(folder, name), content);
        }

        WriteText(folder, MarkerFileName, new JsonObject
        {
            ["seed"] = seed,
            ["config_sha256"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(configJson))),
            ["shards"] = sizes,
        });
    }

    /// <summary>
    /// True when <paramref name="folder"/> holds a finished <see cref="Write"/> of exactly <paramref name="configJson"/>:
    /// the marker, the same config, and every shard at its recorded size.
    /// </summary>
    public static bool IsComplete(string folder, string configJson)
    {
        ArgumentNullException.ThrowIfNull(configJson);
        string marker = Path.Combine(folder, MarkerFileName);
        if (!File.Exists(marker) || !File.Exists(Path.Combine(folder, HuggingFaceCheckpoint.IndexFileName)))
        {
            return false;
        }

        try
        {
            var root = JsonNode.Parse(File.ReadAllText(marker))!;
            string expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(configJson)));
            if (root["config_sha256"]?.GetValue<string>() != expected
                || File.ReadAllText(Path.Combine(folder, HuggingFaceCheckpoint.ConfigFileName)) != configJson)
            {
                return false;
            }

            var shards = root["shards"]!.AsObject();
            return shards.Count > 0 && shards.All(s => new FileInfo(Path.Combine(folder, s.Key)) is { Exists: true } file
                && file.Length == s.Value!.GetValue<long>());
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException or IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// Every weight the config builds, as (checkpoint key, shape), in the model's parameter order. The network is built
    /// on the meta device, so no memory is spent on its weights. Torch's default device is process-wide: call this where
    /// no other thread is building tensors (the benchmark does, before anything else runs).
    /// </summary>
    public static IReadOnlyList<(string Name, long[] Shape)> TensorsOf(QwenVLConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var previous = get_default_device();
        set_default_device(META);
        try
        {
            using var model = new QwenVLModel(config);
            return [.. model.named_parameters().Select(p => (p.name, p.parameter.shape.ToArray()))];
        }
        finally
        {
            set_default_device(previous);
        }
    }

    /// <summary>What a weight starts as: 1 for a normalisation's scale, 0 for its shift, else random normal.</summary>
    public static double? ConstantOf(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string module = name[..Math.Max(0, name.LastIndexOf('.'))];
        string leaf = module[(module.LastIndexOf('.') + 1)..];
        bool isNorm = leaf.Contains("norm", StringComparison.Ordinal) || leaf == "ln_q";
        return !isNorm ? null : name.EndsWith(".weight", StringComparison.Ordinal) ? 1.0 : 0.0;
    }

    private static long Elements(long[] shape) => shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Consecutive tensors into shards of at most <paramref name="shardBytes"/> (a larger tensor gets its own).</summary>
    private static List<List<(string Name, long[] Shape)>> Pack(IReadOnlyList<(string Name, long[] Shape)> tensors, long shardBytes)
    {
        var shards = new List<List<(string, long[])>> { new() };
        long used = 0;
        foreach (var t in tensors)
        {
            long bytes = 2 * Elements(t.Shape);
            if (used > 0 && used + bytes > shardBytes)
            {
                shards.Add([]);
                used = 0;
            }

            shards[^1].Add(t);
            used += bytes;
        }

        return shards;
    }

    private static void WriteShard(Stream stream, List<(string Name, long[] Shape)> tensors, Generator generator)
    {
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = "pt" } };
        long offset = 0;
        foreach (var (name, shape) in tensors)
        {
            long length = 2 * Elements(shape);
            header[name] = new JsonObject
            {
                ["dtype"] = "BF16",
                ["shape"] = new JsonArray([.. shape.Select(d => (JsonNode)d)]),
                ["data_offsets"] = new JsonArray(offset, offset + length),
            };
            offset += length;
        }

        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)padded);
        stream.Write(prefix);
        stream.Write(json);
        stream.Write(Enumerable.Repeat((byte)' ', padded - json.Length).ToArray());

        var bytes = new byte[2 * ChunkElements];
        foreach (var (name, shape) in tensors)
        {
            long count = Elements(shape);
            double? constant = ConstantOf(name);
            for (long done = 0; done < count;)
            {
                int n = (int)Math.Min(ChunkElements, count - done);
                if (constant is { } value)
                {
                    ushort bits = ToBFloat16((float)value);
                    for (int i = 0; i < n; i++)
                    {
                        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), bits);
                    }
                }
                else
                {
                    using var noise = randn([n], generator: generator).mul_(WeightStd);
                    var floats = noise.data<float>().ToArray();
                    for (int i = 0; i < n; i++)
                    {
                        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), ToBFloat16(floats[i]));
                    }
                }

                stream.Write(bytes, 0, 2 * n);
                done += n;
            }
        }
    }

    /// <summary>float32 -> bfloat16 bits, rounding to nearest even (finite inputs only: these are random normals).</summary>
    private static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    private static void WriteText(string folder, string name, JsonNode node) =>
        File.WriteAllText(Path.Combine(folder, name), node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n",
            new UTF8Encoding(false));

    private static void WriteAtomically(string path, Action<Stream> write)
    {
        string temporary = string.Create(CultureInfo.InvariantCulture, $"{path}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(stream);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
