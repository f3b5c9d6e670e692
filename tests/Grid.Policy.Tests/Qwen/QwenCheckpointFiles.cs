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

    /// <summary>The shard that holds <paramref name="tensor"/> (per the index), or model.safetensors.</summary>
    public static string FileOf(string folder, string tensor)
    {
        string index = Path.Combine(folder, "model.safetensors.index.json");
        return File.Exists(index)
            ? JsonNode.Parse(File.ReadAllText(index))!["weight_map"]![tensor]!.GetValue<string>()
            : "model.safetensors";
    }
}
