using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Grid.Policy.Qwen;

/// <summary>One tensor's entry in a safetensors header; Begin and End are byte offsets into the data after the header.</summary>
internal sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// A safetensors file's header (8-byte little-endian length, then JSON), read without touching the data, and
/// checked against the file: known dtypes, offsets matching the shapes, and every tensor's bytes inside the file
/// (a truncated file is refused before anything is loaded).
/// </summary>
internal sealed class SafetensorsHeader
{
    /// <summary>Headers above this are refused unread (a real one for a 7B model is ~100 KB).</summary>
    public const long MaxHeaderBytes = 100L << 20;

    private SafetensorsHeader(string path, long dataStart, List<SafetensorsEntry> entries, JsonObject? metadata)
    {
        Path = path;
        DataStart = dataStart;
        Entries = entries;
        Metadata = metadata;
    }

    public string Path { get; }

    /// <summary>The file offset of the data (8 + header length).</summary>
    public long DataStart { get; }

    /// <summary>The tensors in the order of their data.</summary>
    public IReadOnlyList<SafetensorsEntry> Entries { get; }

    public JsonObject? Metadata { get; }

    public static int BytesPerElement(string dtype) => dtype switch
    {
        "F32" => 4,
        "BF16" or "F16" => 2,
        _ => 0,
    };

    public static SafetensorsHeader Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Safetensors file '{path}' is missing.", path);
        }

        using var stream = File.OpenRead(path);
        long fileLength = stream.Length;
        Span<byte> prefix = stackalloc byte[8];
        if (fileLength < 8 || stream.ReadAtLeast(prefix, 8, throwOnEndOfStream: false) < 8)
        {
            throw new InvalidDataException($"Safetensors file '{path}' has {fileLength} bytes, too few for a header.");
        }

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes || (long)headerLength > fileLength - 8)
        {
            throw new InvalidDataException(
                $"Safetensors file '{path}' claims a {headerLength}-byte header; the file has {fileLength} bytes (truncated or not safetensors).");
        }

        var json = new byte[headerLength];
        stream.ReadExactly(json);
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject
                ?? throw new InvalidDataException($"The header of '{path}' is not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The header of '{path}' is not valid JSON ({e.Message}).", e);
        }

        long dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;
        var entries = new List<SafetensorsEntry>();
        JsonObject? metadata = null;
        foreach (var (name, node) in root)
        {
            if (name == "__metadata__")
            {
                metadata = node as JsonObject;
                continue;
            }

            entries.Add(ReadEntry(path, name, node, dataLength));
        }

        entries.Sort((a, b) => a.Begin.CompareTo(b.Begin));
        for (int i = 1; i < entries.Count; i++)
        {
            if (entries[i].Begin < entries[i - 1].End)
            {
                throw new InvalidDataException(
                    $"In '{path}', tensor '{entries[i].Name}' at byte {entries[i].Begin} overlaps '{entries[i - 1].Name}', which ends at {entries[i - 1].End}.");
            }
        }

        return new SafetensorsHeader(path, dataStart, entries, metadata);
    }

    private static SafetensorsEntry ReadEntry(string path, string name, JsonNode? node, long dataLength)
    {
        try
        {
            var entry = node as JsonObject ?? throw new InvalidDataException("its entry is not an object");
            string dtype = entry["dtype"]?.GetValue<string>() ?? throw new InvalidDataException("it has no dtype");
            var shape = (entry["shape"] as JsonArray ?? throw new InvalidDataException("it has no shape"))
                .Select(d => d!.GetValue<long>()).ToArray();
            var offsets = entry["data_offsets"] as JsonArray;
            if (offsets is not { Count: 2 })
            {
                throw new InvalidDataException("its data_offsets are not [begin, end]");
            }

            long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
            if (shape.Any(d => d < 0) || begin < 0 || end < begin)
            {
                throw new InvalidDataException($"shape [{string.Join(", ", shape)}] or data_offsets [{begin}, {end}] are negative");
            }

            int size = BytesPerElement(dtype);
            if (size == 0)
            {
                throw new InvalidDataException($"dtype {dtype} is not supported (BF16, F16 or F32 are)");
            }

            long expected = shape.Aggregate(1L, (a, b) => checked(a * b)) * size;
            if (end - begin != expected)
            {
                throw new InvalidDataException(
                    $"data_offsets [{begin}, {end}] hold {end - begin} bytes but {dtype} [{string.Join(", ", shape)}] needs {expected}");
            }

            if (end > dataLength)
            {
                throw new InvalidDataException(
                    $"its bytes end at {end} but the file has only {dataLength} bytes of data (the file is truncated)");
            }

            return new SafetensorsEntry(name, dtype, shape, begin, end);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException or InvalidDataException)
        {
            throw new InvalidDataException($"Tensor '{name}' in '{path}': {e.Message}.", e);
        }
    }
}
