using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Grid.Policy.Qwen;

/// <summary>
/// A Grid run's checkpoint of a Hugging Face policy: a hub-layout folder (what <see cref="HuggingFaceCheckpoint.Save"/>
/// writes, which transformers loads) with a checkpoint.json written last, so a folder with it is complete, listing
/// every file's size and sha256, so a damaged or half-copied checkpoint is refused before it is loaded.
/// </summary>
public static class HubCheckpoint
{
    public const string ManifestFileName = "checkpoint.json";
    private const string Format = "huggingface";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Writes <paramref name="model"/> (loaded from <paramref name="sourceFolder"/>) to <paramref name="directory"/>.</summary>
    public static void Save(QwenVLModel model, string sourceFolder, string directory)
    {
        ArgumentNullException.ThrowIfNull(model);
        Directory.CreateDirectory(directory);
        string manifestPath = Path.Combine(directory, ManifestFileName);
        File.Delete(manifestPath); // an overwritten checkpoint is incomplete until its new manifest is written
        HuggingFaceCheckpoint.Save(model, sourceFolder, directory);
        var files = Directory.EnumerateFiles(directory).Select(Path.GetFileName).OfType<string>()
            .Where(name => name != ManifestFileName && !name.StartsWith('.'))
            .Order(StringComparer.Ordinal)
            .Select(name => new HubFile(name, new FileInfo(Path.Combine(directory, name)).Length, Sha256(Path.Combine(directory, name))))
            .ToArray();
        var manifest = new HubManifest(1, Format, model.Config.ModelType, files);
        string temporary = manifestPath + ".tmp";
        File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(manifest, Json));
        File.Move(temporary, manifestPath, overwrite: true);
    }

    /// <summary>
    /// Checks a folder's checkpoint.json, when it has one of this format: every listed file present with its size and
    /// sha256. A plain hub folder (no manifest) passes; its loader checks the weights' layout.
    /// </summary>
    public static void Verify(string directory)
    {
        string manifestPath = Path.Combine(directory, ManifestFileName);
        if (!File.Exists(manifestPath))
        {
            return;
        }

        HubManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<HubManifest>(File.ReadAllBytes(manifestPath))
                ?? throw new InvalidDataException($"{manifestPath} is empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{manifestPath} is not a valid checkpoint manifest ({e.Message}).", e);
        }

        if (manifest.Format != Format)
        {
            return; // Grid's own checkpoint format: not a hub folder's manifest
        }

        foreach (var file in manifest.Files)
        {
            string path = Path.Combine(directory, Path.GetFileName(file.Name));
            if (!File.Exists(path))
            {
                throw new InvalidDataException($"Checkpoint '{directory}' lacks {file.Name}, which its checkpoint.json lists; the checkpoint is incomplete.");
            }

            long length = new FileInfo(path).Length;
            if (length != file.Bytes || Sha256(path) != file.Sha256)
            {
                throw new InvalidDataException(
                    $"{path} fails its check ({length} bytes against {file.Bytes} recorded, or another sha256): the checkpoint is damaged; " +
                    "use an earlier checkpoint of the run.");
            }
        }
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private sealed record HubManifest(
        [property: JsonPropertyName("format_version")] int FormatVersion,
        [property: JsonPropertyName("format")] string Format,
        [property: JsonPropertyName("model_type")] string ModelType,
        [property: JsonPropertyName("files")] IReadOnlyList<HubFile> Files);

    private sealed record HubFile(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("bytes")] long Bytes,
        [property: JsonPropertyName("sha256")] string Sha256);
}
