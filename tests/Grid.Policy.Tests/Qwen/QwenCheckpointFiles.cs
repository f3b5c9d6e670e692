using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace Grid.Policy.Tests.Qwen;

/// <summary>Copies of the tiny checkpoints to damage, and a safetensors header reader/rewriter for the tests.</summary>
internal static class QwenCheckpointFiles
{
    public static string CopyOf(string family, string root)
    {
        string target = Path.Combine(root, family);
        Directory.CreateDirectory(target);
        foreach (string file in Directory.EnumerateFiles(QwenReference.CheckpointFolder(family)))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }

        return target;
    }

    /// <summary>The header JSON of a safetensors file (without touching the data).</summary>
    public static JsonObject Header(string path)
    {
        using var stream = File.OpenRead(path);
        var prefix = new byte[8];
        stream.ReadExactly(prefix);
        var json = new byte[BinaryPrimitives.ReadUInt64LittleEndian(prefix)];
        stream.ReadExactly(json);
        return JsonNode.Parse(json)!.AsObject();
    }

    /// <summary>Rewrites the header of <paramref name="path"/> with <paramref name="edit"/>, keeping the data bytes.</summary>
    public static void EditHeader(string path, Action<JsonObject> edit)
    {
        var bytes = File.ReadAllBytes(path);
        int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(bytes.AsSpan(8, length))!.AsObject();
        edit(header);
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        using var output = File.Create(path);
        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)json.Length);
        output.Write(prefix);
        output.Write(json);
        output.Write(bytes.AsSpan(8 + length));
    }

    /// <summary>Renames tensor <paramref name="from"/> in a header (and in the index's weight map when there is one).</summary>
    public static void RenameTensor(string folder, string file, string from, string to)
    {
        EditHeader(Path.Combine(folder, file), header =>
        {
            var entry = header[from]!;
            header.Remove(from);
            header[to] = entry;
        });
        string index = Path.Combine(folder, "model.safetensors.index.json");
        if (File.Exists(index))
        {
            var root = JsonNode.Parse(File.ReadAllText(index))!.AsObject();
            var map = root["weight_map"]!.AsObject();
            map.Remove(from);
            map[to] = file;
            File.WriteAllText(index, root.ToJsonString());
        }
    }

    /// <summary>Rewrites a BF16 safetensors file as F32 (each value widened exactly), e.g. to test another source dtype.</summary>
    public static void WidenToFloat32(string path)
    {
        var bytes = File.ReadAllBytes(path);
        int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(bytes.AsSpan(8, length))!.AsObject();
        var entries = header.Where(p => p.Key != "__metadata__")
            .OrderBy(p => p.Value!["data_offsets"]![0]!.GetValue<long>()).ToList();
        using var data = new MemoryStream();
        foreach (var (_, node) in entries)
        {
            var entry = node!.AsObject();
            long begin = entry["data_offsets"]![0]!.GetValue<long>(), end = entry["data_offsets"]![1]!.GetValue<long>();
            long start = data.Length;
            for (long at = 8 + length + begin; at < 8 + length + end; at += 2)
            {
                var widened = new byte[4];
                BinaryPrimitives.WriteUInt32LittleEndian(widened, (uint)BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan((int)at)) << 16);
                data.Write(widened);
            }

            entry["dtype"] = "F32";
            entry["data_offsets"] = new JsonArray(start, data.Length);
        }

        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        using var output = File.Create(path);
        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)json.Length);
        output.Write(prefix);
        output.Write(json);
        data.Position = 0;
        data.CopyTo(output);
    }

    /// <summary>Renames every key to newer transformers' layout (model.language_model.*, model.visual.*).</summary>
    public static void UseNestedKeyLayout(string path)
    {
        EditHeader(path, header =>
        {
            foreach (var (key, entry) in header.ToList())
            {
                string renamed = key.StartsWith("visual.", StringComparison.Ordinal) ? "model." + key
                    : key.StartsWith("model.", StringComparison.Ordinal) ? "model.language_model." + key["model.".Length..]
                    : key;
                if (renamed != key)
                {
                    header.Remove(key);
                    header[renamed] = entry!.DeepClone();
                }
            }
        });
    }

    /// <summary>The shard that holds <paramref name="tensor"/> (per the index), or model.safetensors.</summary>
    public static string FileOf(string folder, string tensor)
    {
        string index = Path.Combine(folder, "model.safetensors.index.json");
        return File.Exists(index)
            ? JsonNode.Parse(File.ReadAllText(index))!["weight_map"]![tensor]!.GetValue<string>()
            : "model.safetensors";
    }
}
